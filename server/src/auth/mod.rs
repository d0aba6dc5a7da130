//! Authentication: password hashing, access tokens, Redis sessions, the app
//! cache that fronts them, and the extractors handlers use.

pub mod account_tokens;
pub mod cache;
pub mod extract;
pub mod jwt;
pub mod otp;
pub mod password;
pub mod refresh;
pub mod sessions;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

/// `bytes` bytes from the OS CSPRNG, base64url-encoded.
pub fn random_token(bytes: usize) -> String {
    let mut buffer = vec![0_u8; bytes];
    // ThreadRng is a CSPRNG (ChaCha12) reseeded from the OS.
    rand::rng().fill_bytes(&mut buffer);
    URL_SAFE_NO_PAD.encode(buffer)
}
