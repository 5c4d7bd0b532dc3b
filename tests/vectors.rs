//! Reproduces every V2-signature, canonical-JSON, Body-Sign and SaaS V1 vector of `shared/spec/vectors.json`.
//!
//! The file is kept in `tests/fixtures/` so the crate tests itself from a bare clone; when the shared
//! spec sits beside the repository (as in CI), the copy must be identical to it.

use koogate::protocol::body_sign::{body_sign_header, body_signature};
use koogate::protocol::canonical::{Candidate, canonical_c1, canonical_c3, canonical_c4};
use koogate::protocol::keys::{KeyRef, KeyType};
use koogate::protocol::v2::signature::{v2_inner, v2_matches, v2_sign, v2_verify};
use secrecy::SecretString;
use serde_json::{Map, Value};

const FIXTURE: &str = include_str!("fixtures/vectors.json");

fn vectors(scheme: &str) -> Vec<Value> {
    let all: Value = serde_json::from_str(FIXTURE).unwrap();
    let list: Vec<Value> = all["vectors"].as_array().unwrap().iter().filter(|v| v["scheme"] == scheme).cloned().collect();
    assert!(!list.is_empty(), "no vectors of scheme {scheme}");
    list
}

fn text<'a>(value: &'a Value, path: &str) -> &'a str {
    value.pointer(path).and_then(Value::as_str).unwrap_or_else(|| panic!("{path} missing in {}", value["id"]))
}

#[test]
fn fixture_matches_the_shared_spec() {
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/spec/vectors.json");
    match std::fs::read_to_string(&shared) {
        Ok(spec) => assert_eq!(spec, FIXTURE, "tests/fixtures/vectors.json is out of date: copy {} over it", shared.display()),
        // CI always has the shared spec beside the clone: there, its absence is a failure.
        Err(_) if std::env::var_os("CI").is_some() => panic!("{} not found in CI", shared.display()),
        Err(_) => eprintln!("note: {} not found; testing the fixture copy only", shared.display()),
    }
}

#[test]
fn v2_request_signature_vectors() {
    let list = vectors("v2_request_signature");
    assert_eq!(list.len(), 5);
    for vector in list {
        let id = vector["id"].as_str().unwrap();
        let key = text(&vector, "/input/access_key");
        let nonce = text(&vector, "/input/nonce");
        let timestamp = text(&vector, "/input/timestamp");
        let raw = text(&vector, "/input/body_raw");
        let object: Map<String, Value> = serde_json::from_str(raw).unwrap();
        let expected = &vector["expected"];

        let c1 = canonical_c1(&object);
        assert_eq!(std::str::from_utf8(&c1).unwrap(), text(expected, "/canonical_c1"), "{id} C1");
        assert_eq!(v2_inner(key, &c1), text(expected, "/inner_c1"), "{id} inner");
        assert_eq!(v2_sign(key, nonce, timestamp, &c1), text(expected, "/signature_c1"), "{id} signature");
        assert!(v2_matches(key, nonce, timestamp, &c1, text(expected, "/signature_c1_upper")), "{id} upper-case hex");

        let mut checks = vec![(Candidate::C1Sorted, text(expected, "/signature_c1").to_owned())];
        if let Some(signature) = expected["signature_c2_raw"].as_str() {
            assert_eq!(v2_sign(key, nonce, timestamp, raw.as_bytes()), signature, "{id} raw");
            checks.push((Candidate::C2Raw, signature.to_owned()));
        }
        if let Some(canonical) = expected["canonical_c3"].as_str() {
            let c3 = canonical_c3(&object);
            assert_eq!(std::str::from_utf8(&c3).unwrap(), canonical, "{id} C3");
            assert_eq!(v2_sign(key, nonce, timestamp, &c3), text(expected, "/signature_c3"), "{id} C3 signature");
            checks.push((Candidate::C3DeepSorted, text(expected, "/signature_c3").to_owned()));
        }
        if let Some(canonical) = expected["canonical_c4"].as_str() {
            let c4 = canonical_c4(&object);
            assert_eq!(std::str::from_utf8(&c4).unwrap(), canonical, "{id} C4");
            assert_eq!(v2_sign(key, nonce, timestamp, &c4), text(expected, "/signature_c4"), "{id} C4 signature");
            checks.push((Candidate::C4Stringified, text(expected, "/signature_c4").to_owned()));
        }

        // The verifier accepts each candidate's signature and names the candidate that matched.
        let secret = SecretString::from(key);
        for (candidate, signature) in checks {
            let keys = [KeyRef { key_type: KeyType::Basic, index: 0, key: &secret }];
            let matched = v2_verify(keys, nonce, timestamp, raw.as_bytes(), Some(&object), &signature)
                .unwrap_or_else(|| panic!("{id} {candidate:?}"));
            assert_eq!(matched.candidate, candidate, "{id}");
            let wrong = SecretString::from(format!("{key}x"));
            assert!(
                v2_verify(
                    [KeyRef { key_type: KeyType::Basic, index: 0, key: &wrong }],
                    nonce,
                    timestamp,
                    raw.as_bytes(),
                    Some(&object),
                    &signature
                )
                .is_none()
            );
        }
    }
}

#[test]
fn body_sign_vectors() {
    for vector in vectors("v1_body_sign") {
        let id = vector["id"].as_str().unwrap();
        let key = text(&vector, "/input/key");
        let body = text(&vector, "/input/body").as_bytes();
        assert_eq!(body_signature(key, body), text(&vector, "/expected/signature"), "{id}");
        assert_eq!(body_sign_header(key, body), text(&vector, "/expected/header_value"), "{id}");
        assert_eq!(text(&vector, "/expected/header_name"), "Body-Sign");
    }
}

#[test]
fn apig_sdk_hmac_sha256_vectors() {
    use koogate::protocol::apig::SignedRequest;
    let list = vectors("apig_sdk_hmac_sha256");
    assert_eq!(list.len(), 4);
    for vector in list {
        let id = vector["id"].as_str().unwrap();
        let input = &vector["input"];
        let query: Vec<(String, String)> = input["query"]
            .as_array()
            .unwrap()
            .iter()
            .map(|pair| (pair[0].as_str().unwrap().to_owned(), pair[1].as_str().unwrap().to_owned()))
            .collect();
        let headers: Vec<(String, String)> =
            input["headers"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())).collect();
        let request = SignedRequest {
            method: text(input, "/method"),
            path: text(input, "/path"),
            query: &query,
            headers: &headers,
            body: text(input, "/body").as_bytes(),
        };
        let expected = &vector["expected"];
        assert_eq!(request.canonical_request(), text(expected, "/canonical_request"), "{id}");
        assert_eq!(request.string_to_sign(), text(expected, "/string_to_sign"), "{id}");
        assert_eq!(request.signed_headers(), text(expected, "/signed_headers"), "{id}");
        assert_eq!(request.signature(text(input, "/sk")), text(expected, "/signature"), "{id}");
        assert_eq!(request.authorization(text(input, "/ak"), text(input, "/sk")), text(expected, "/authorization"), "{id}");
        assert!(request.verify(text(input, "/sk"), text(expected, "/signature")));
    }
}

#[test]
fn usage_push_signature_vectors() {
    use koogate::protocol::usage_sign::{usage_push_matches, usage_push_signature};
    for vector in vectors("usage_push_signature") {
        let input = &vector["input"];
        let (key, ts, nonce) = (text(input, "/key"), text(input, "/ts"), text(input, "/nonce"));
        // The body koogate sends: members sorted at every level, compact.
        let body = koogate::protocol::canonical::canonical_c3(input["records"].as_object().unwrap());
        assert_eq!(std::str::from_utf8(&body).unwrap(), text(&vector, "/expected/body"));
        let signature = usage_push_signature(key, ts, nonce, &body);
        assert_eq!(signature, text(&vector, "/expected/signature"));
        assert!(usage_push_matches(key, ts, nonce, &body, &signature));
        assert!(!usage_push_matches("other", ts, nonce, &body, &signature));
    }
}

#[test]
fn v1_auth_token_vectors() {
    use koogate::protocol::v1::{
        AUTH_TOKEN, AuthTokenError, KeySize, PlusDecoding, RawQuery, TIME_STAMP, TokenMatch, V1Cipher, compute_auth_token, hmac_key,
        kit_string_to_sign, kit_time_stamp, verify_kit, verify_query,
    };
    use secrecy::ExposeSecret;
    let list = vectors("v1_auth_token");
    assert_eq!(list.len(), 4);
    for vector in list {
        let id = vector["id"].as_str().unwrap();
        let (input, expected) = (&vector["input"], &vector["expected"]);
        let key = text(input, "/key");
        let token = text(expected, "/auth_token");
        // Rotation: the vector's key is the second one configured.
        let keys = [SecretString::from("an-older-v1-key-0000"), SecretString::from(key)];

        if let Some(body) = input["body_raw"].as_str() {
            // Kit V1 POST: the token arrives as a header.
            let object: Map<String, Value> = serde_json::from_str(body).unwrap();
            let data = kit_string_to_sign(&object);
            assert_eq!(data, text(expected, "/string_to_sign"), "{id}");
            let time_stamp = kit_time_stamp(&object).unwrap();
            assert_eq!(compute_auth_token(key, &time_stamp, &data), token, "{id}");
            assert_eq!(verify_kit(&keys, &object, token), Ok(1), "{id}");
            assert_eq!(verify_kit(&keys, &object, &format!("\"{token}\"")), Ok(1), "{id} quoted");
            assert_eq!(verify_kit(&keys[..1], &object, token), Err(AuthTokenError::Mismatch), "{id}");
            continue;
        }

        let query = RawQuery::parse(text(input, "/raw_query"));
        let decoding = match expected["decoding"].as_str() {
            Some(name) => *PlusDecoding::ALL.iter().find(|d| d.as_str() == name).unwrap_or_else(|| panic!("{id}: decoding {name}")),
            None => PlusDecoding::Form,
        };
        let data = query.string_to_sign(decoding);
        assert_eq!(data, text(expected, "/string_to_sign"), "{id}");
        let time_stamp = query.value(TIME_STAMP, decoding).unwrap();
        if let Some(expected_key) = expected["hmac_key"].as_str() {
            assert_eq!(hmac_key(key, &time_stamp).expose_secret(), expected_key, "{id}");
        }
        assert_eq!(compute_auth_token(key, &time_stamp, &data), token, "{id}");
        assert_eq!(query.auth_token().as_deref(), Some(token), "{id} normalised token");
        if let Some(form_decoded) = expected["auth_token_as_form_decoded"].as_str() {
            assert_eq!(query.value(AUTH_TOKEN, PlusDecoding::Form).as_deref(), Some(form_decoded), "{id}");
        }
        assert_eq!(verify_query(&keys, &query), Ok(TokenMatch { key_index: 1, decoding }), "{id}");
        assert_eq!(verify_query(&keys[..1], &query), Err(AuthTokenError::Mismatch), "{id}");
        // Where the two decodings differ, only the named one reproduces the token.
        for other in PlusDecoding::ALL.into_iter().filter(|d| *d != decoding) {
            let other_data = query.string_to_sign(other);
            if other_data != data {
                let other_ts = query.value(TIME_STAMP, other).unwrap();
                assert_ne!(compute_auth_token(key, &other_ts, &other_data), token, "{id} {other:?}");
            }
        }

        if let Some(plain) = expected["mobilePhone_plain"].as_str() {
            // The token covers the ciphertext; decryption comes after, from either decoding.
            let size = KeySize::from_encrypt_type(text(input, "/encrypt_type")).unwrap();
            let cipher = V1Cipher::new(key, size);
            let form = query.value("mobilePhone", PlusDecoding::Form).unwrap();
            assert!(form.contains(' '), "{id}: form decoding turns the raw '+' into a space");
            assert_eq!(cipher.decrypt(&form).unwrap(), plain, "{id}");
            assert_eq!(cipher.decrypt(&query.value("mobilePhone", PlusDecoding::Literal).unwrap()).unwrap(), plain, "{id}");
        }
    }
}

#[test]
fn v1_aes_sha1prng_vectors() {
    use koogate::protocol::v1::{KeySize, V1Cipher, decrypt_with_fallback, sha1prng};
    use sha1::{Digest, Sha1};
    let list = vectors("v1_aes_sha1prng");
    assert_eq!(list.len(), 6);
    for vector in list {
        let id = vector["id"].as_str().unwrap();
        let (input, expected) = (&vector["input"], &vector["expected"]);
        let key = text(input, "/key");
        let size = KeySize::from_encrypt_type(text(input, "/encrypt_type")).unwrap();
        assert_eq!(Some(size), input["key_bits"].as_u64().and_then(|bits| KeySize::from_bits(u32::try_from(bits).ok()?)), "{id}");
        assert_eq!(hex::encode(Sha1::digest(key.as_bytes())), text(expected, "/sha1_seed_state"), "{id} seed state");
        let mut aes_key = vec![0u8; size.bytes()];
        sha1prng(key.as_bytes(), &mut aes_key);
        assert_eq!(hex::encode(&aes_key), text(expected, "/aes_key_hex"), "{id} derived key");

        let (plaintext, field) = (text(input, "/plaintext"), text(expected, "/ciphertext_field"));
        let cipher = V1Cipher::new(key, size);
        assert_eq!(cipher.encrypt_with_iv(plaintext, text(input, "/iv")).as_deref(), Ok(field), "{id}");
        assert_eq!(cipher.decrypt(field).as_deref(), Ok(plaintext), "{id}");
        assert_eq!(decrypt_with_fallback(key, size.other(), field), Ok((plaintext.to_owned(), size)), "{id} fallback");
    }
}

#[test]
fn v1_saas_extend_params_vectors() {
    use koogate::protocol::v1::ExtendParams;
    for vector in vectors("v1_saas_extend_params") {
        let id = vector["id"].as_str().unwrap();
        let expected = &vector["expected"];
        let params = ExtendParams::from_query_value(text(&vector, "/input/query_value")).unwrap();
        assert_eq!(params.base64(), text(expected, "/base64"), "{id}");
        assert_eq!(params.json(), text(expected, "/json"), "{id}");
        let pairs: Vec<(&str, &str)> =
            expected["params"].as_array().unwrap().iter().map(|p| (p["name"].as_str().unwrap(), p["value"].as_str().unwrap())).collect();
        assert_eq!(params.iter().collect::<Vec<_>>(), pairs, "{id}");
        assert_eq!(ExtendParams::from_base64(text(expected, "/base64")).unwrap(), params, "{id}");
    }
}
