// A loopback OpenID Connect provider for Seam's sign-in tests: node-oidc-provider with
// its development interactions, which a test drives with plain HTTP (GET the
// interaction page, POST `prompt=login&login=<account>`, POST `prompt=consent`).
//
// Accounts: every login name is an account. `alice` has e-mail `alice@seam.test`; a
// login containing `@` is its own e-mail; `unverified-<login>` is another account with
// the e-mail of `<login>`, not verified. So each test can sign in as a user of its own.
//
// Client `seam-test` (secret `seam-test-secret`, or SEAM_OIDC_CLIENT_SECRET) is a
// native client: any loopback redirect URI `http://127.0.0.1:<any port>/auth/callback`
// (or localhost) is accepted, as RFC 8252 allows. Code flow with PKCE (S256),
// refresh tokens (always issued to this client), RFC 7009 revocation, RFC 7662
// introspection, RS256 ID tokens with the e-mail and profile claims inside.
import { generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';

const host = process.env.SEAM_OIDC_HOST || '127.0.0.1';
const port = Number(process.env.SEAM_OIDC_PORT || 9400);
const issuer = process.env.SEAM_OIDC_ISSUER || `http://${host}:${port}`;
const clientSecret = process.env.SEAM_OIDC_CLIENT_SECRET || 'seam-test-secret';

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: `seam-${randomBytes(6).toString('hex')}`, alg: 'RS256', use: 'sig' };
}

function claimsOf(login) {
  // `unverified-<x>` claims the same address as `<x>`, unverified: the account
  // take-over a client must refuse.
  const base = login.replace(/^unverified-/, '');
  const email = base.includes('@') ? base : `${base}@seam.test`;
  const name = base.split('@')[0];
  return {
    sub: login,
    email,
    email_verified: !login.startsWith('unverified-'),
    name: name.charAt(0).toUpperCase() + name.slice(1),
    picture: `https://avatars.seam.test/${encodeURIComponent(name)}.png`,
  };
}

const configuration = {
  clients: [
    {
      client_id: 'seam-test',
      client_secret: clientSecret,
      application_type: 'native',
      redirect_uris: ['http://127.0.0.1/auth/callback', 'http://localhost/auth/callback'],
      post_logout_redirect_uris: ['http://127.0.0.1/', 'http://localhost/'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [signingKey()] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'picture'],
  },
  scopes: ['openid', 'offline_access', 'email', 'profile'],
  // Like Google: the profile claims travel in the ID token itself.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
  },
  // Refresh tokens for every code grant of a client allowed to refresh, without
  // requiring `offline_access` + `prompt=consent` (Google asks `access_type=offline`).
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  ttl: {
    AccessToken: Number(process.env.SEAM_OIDC_ACCESS_TOKEN_TTL || 600),
    IdToken: 600,
    AuthorizationCode: 60,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
    RefreshToken: 86400,
  },
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => claimsOf(id),
  }),
};

const provider = new Provider(issuer, configuration);
provider.on('server_error', (ctx, err) => console.error('server_error', err));

const server = provider.listen(port, host, () => {
  console.log(`oidc-provider listening on ${issuer} (discovery: ${issuer}/.well-known/openid-configuration)`);
});

function shutdown() {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
