// The zaxos package: the classes and types of zaxos.d.ts, initialised on import.
export * from "./zaxos.js";
