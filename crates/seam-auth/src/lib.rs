//! The auth port: principals, token validation and issuing, sessions, sign-in, revocation.
