//! SaaS V1 wire primitives (saas-v1.md, signing.md (c) and (e)): the `authToken` of V1 GET and Kit V1
//! POST calls, the AES-CBC field encryption with its SHA1PRNG key derivation, `saasExtendParams`, and the activities.
//!
//! V1 is deprecated but still called for products listed under it, and it differs from V2 in every
//! primitive, so it lives in its own module. Everything here is pure (no I/O, no clock, no database);
//! the V1 adapter does the transport, the configuration and the result codes. The `Body-Sign` response
//! header, shared with V2, is in [`super::body_sign`].

pub mod activity;
pub mod aes;
pub mod auth_token;
pub mod extend_params;

pub use activity::Activity;
pub use aes::{
    AesError, CREDENTIAL_FIELD_MAX_LEN, IV_LEN, KeySize, V1Cipher, decrypt_with_fallback, encrypted_len, fits_credential_field, random_iv,
    sha1prng,
};
pub use auth_token::{
    AUTH_TOKEN, AUTH_TOKEN_MAX_LEN, AuthTokenError, PlusDecoding, RawQuery, TIME_STAMP, TIME_STAMP_MAX_LEN, TokenMatch, auth_token_matches,
    compute_auth_token, hmac_key, kit_header_token, kit_string_to_sign, kit_time_stamp, string_to_sign, verify_kit, verify_query,
};
pub use extend_params::{ExtendParams, ExtendParamsError, SAAS_EXTEND_PARAMS, SAAS_EXTEND_PARAMS_MAX_LEN};
