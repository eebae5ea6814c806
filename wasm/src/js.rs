//! The edge between JS values and the kernel's types: reading plain objects and
//! numbers that came from JS (checked, never trusted), building the plain
//! objects handed back, and the `Error`s thrown with a stable `code`.
//!
//! Nothing here formats numbers into strings: `core::fmt` would cost more of
//! the `.wasm` than everything else in this file. Details travel as properties
//! of the objects instead.

use alloc::string::String;
use alloc::vec::Vec;

use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use zaxos::Zxid;

/// Sets `key` on `target`; a plain object or array we made cannot refuse it.
pub(crate) fn set(target: &JsValue, key: &str, value: impl Into<JsValue>) {
    let _ = Reflect::set(target, &JsValue::from_str(key), &value.into());
}

/// A new plain object with a `kind` property (every output object has one).
pub(crate) fn kind(kind: &str) -> Object {
    let object = Object::new();
    set(&object, "kind", kind);
    object
}

/// A JS number for a 64-bit count (exact below 2^53, which positions and sequence numbers never reach).
pub(crate) fn num(value: u64) -> JsValue {
    JsValue::from_f64(value as f64)
}

/// `{ epoch, counter }`.
pub(crate) fn zxid(z: Zxid) -> JsValue {
    let object = Object::new();
    set(&object, "epoch", z.epoch);
    set(&object, "counter", z.counter);
    object.into()
}

/// A copy of `bytes` in JS memory (it stays valid whatever the kernel does next).
pub(crate) fn bytes(bytes: &[u8]) -> JsValue {
    Uint8Array::from(bytes).into()
}

/// An `Error` whose `code` property names the failure; `message` says it in words.
pub(crate) fn error(code: &str, message: &str) -> JsValue {
    let text: String = ["zaxos: ", message, " (", code, ")"].concat();
    let error = js_sys::Error::new(&text);
    set(&error, "code", code);
    error.into()
}

/// An `Error` with code `BAD_ARGUMENT` naming the argument or property at fault.
pub(crate) fn bad_argument(what: &str, expected: &str) -> JsValue {
    let text: String = [what, " must be ", expected].concat();
    let error = error("BAD_ARGUMENT", &text);
    set(&error, "argument", what);
    error
}

/// The property `key` of `object` (`undefined` when absent); refuses what is not an object.
pub(crate) fn get(object: &JsValue, key: &str, what: &str) -> Result<JsValue, JsValue> {
    if !object.is_object() {
        return Err(bad_argument(what, "an object"));
    }
    Reflect::get(object, &JsValue::from_str(key)).map_err(|_| bad_argument(what, "readable"))
}

/// A JS number that is an integer in `0..=max`.
pub(crate) fn uint(value: &JsValue, max: u64, what: &str) -> Result<u64, JsValue> {
    match value.as_f64() {
        Some(n) if n >= 0.0 && n <= max as f64 && n == (n as u64) as f64 => Ok(n as u64),
        _ => Err(bad_argument(what, "a non-negative integer in range")),
    }
}

/// `uint` for a value that may be absent (`undefined`), with a default.
pub(crate) fn uint_or(value: &JsValue, default: u64, max: u64, what: &str) -> Result<u64, JsValue> {
    if value.is_undefined() {
        Ok(default)
    } else {
        uint(value, max, what)
    }
}

/// A 64-bit value given as a safe-integer number or a `bigint`.
pub(crate) fn u64_of(value: &JsValue, what: &str) -> Result<u64, JsValue> {
    if value.is_bigint() {
        return u64::try_from(value.clone()).map_err(|_| bad_argument(what, "a bigint in 0..2^64"));
    }
    uint(value, (1u64 << 53) - 1, what)
}

/// The bytes of a `Uint8Array` (a node `Buffer` is one) copied into wasm memory,
/// at most `limit` of them (a huge array is never copied whole), with its full
/// length; refuses anything else.
pub(crate) fn bytes_of(value: &JsValue, limit: usize, what: &str) -> Result<(Vec<u8>, usize), JsValue> {
    let Some(array) = value.dyn_ref::<Uint8Array>() else {
        return Err(bad_argument(what, "a Uint8Array"));
    };
    let len = array.length() as usize;
    if len > limit {
        let end = u32::try_from(limit).unwrap_or(u32::MAX);
        return Ok((array.subarray(0, end).to_vec(), len));
    }
    Ok((array.to_vec(), len))
}

/// A JS array, element by element.
pub(crate) fn array_of(value: &JsValue, what: &str) -> Result<Array, JsValue> {
    if Array::is_array(value) {
        Ok(value.clone().unchecked_into())
    } else {
        Err(bad_argument(what, "an array"))
    }
}

/// `{ epoch, counter }` from JS.
pub(crate) fn zxid_of(value: &JsValue, what: &str) -> Result<Zxid, JsValue> {
    let epoch = uint(&get(value, "epoch", what)?, u64::from(u32::MAX), what)?;
    let counter = uint(&get(value, "counter", what)?, u64::from(u32::MAX), what)?;
    Ok(Zxid::new(epoch as u32, counter as u32))
}

/// Refuses an object with a property not in `known` (a misspelt option would
/// otherwise be ignored silently).
pub(crate) fn only_keys(object: &JsValue, known: &[&str], what: &str) -> Result<(), JsValue> {
    if !object.is_object() {
        return Err(bad_argument(what, "an object"));
    }
    for key in Object::keys(object.unchecked_ref::<Object>()).iter() {
        let known_key = key.as_string().is_some_and(|k| known.contains(&k.as_str()));
        if !known_key {
            let error = bad_argument(what, "an object with known properties only");
            set(&error, "property", key);
            return Err(error);
        }
    }
    Ok(())
}

#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn code_and_argument(e: &JsValue) -> (String, String) {
        let field = |k: &str| Reflect::get(e, &JsValue::from_str(k)).ok().and_then(|v| v.as_string()).unwrap_or_default();
        (field("code"), field("argument"))
    }

    #[wasm_bindgen_test]
    fn uint_takes_integers_in_range_only() {
        assert_eq!(uint(&JsValue::from(7), 10, "n").ok(), Some(7));
        assert_eq!(uint(&JsValue::from(10), 10, "n").ok(), Some(10));
        for bad in [JsValue::from(11), JsValue::from(-1), JsValue::from(0.5), JsValue::from(f64::NAN), JsValue::from_str("3"), JsValue::NULL] {
            let e = uint(&bad, 10, "n").unwrap_err();
            assert_eq!(code_and_argument(&e), ("BAD_ARGUMENT".into(), "n".into()));
        }
        assert_eq!(uint_or(&JsValue::UNDEFINED, 4, 10, "n").ok(), Some(4));
    }

    #[wasm_bindgen_test]
    fn u64_of_takes_safe_integers_and_bigints() {
        assert_eq!(u64_of(&JsValue::from(2u64.pow(53) as f64 - 1.0), "s").ok(), Some((1 << 53) - 1));
        assert_eq!(u64_of(&JsValue::from(u64::MAX), "s").ok(), Some(u64::MAX));
        assert!(u64_of(&JsValue::from(2f64.powi(53)), "s").is_err());
        assert!(u64_of(&JsValue::from(-1i64), "s").is_err());
    }

    #[wasm_bindgen_test]
    fn bytes_of_copies_at_most_the_limit_and_reports_the_length() {
        let array: JsValue = Uint8Array::from(&[1u8, 2, 3, 4, 5][..]).into();
        assert_eq!(bytes_of(&array, 10, "b").ok(), Some((alloc::vec![1, 2, 3, 4, 5], 5)));
        assert_eq!(bytes_of(&array, 2, "b").ok(), Some((alloc::vec![1, 2], 5)));
        let e = bytes_of(&js_sys::Array::new().into(), 2, "b").unwrap_err();
        assert_eq!(code_and_argument(&e), ("BAD_ARGUMENT".into(), "b".into()));
    }

    #[wasm_bindgen_test]
    fn zxids_go_both_ways_and_unknown_keys_are_named() {
        let z = Zxid::new(3, 9);
        assert_eq!(zxid_of(&zxid(z), "z").ok(), Some(z));
        let object: JsValue = Object::new().into();
        set(&object, "known", 1);
        set(&object, "typo", 2);
        let e = only_keys(&object, &["known"], "o").unwrap_err();
        let property = Reflect::get(&e, &JsValue::from_str("property")).ok().and_then(|v| v.as_string());
        assert_eq!(property.as_deref(), Some("typo"));
        assert!(only_keys(&object, &["known", "typo"], "o").is_ok());
    }
}
