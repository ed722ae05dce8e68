// A real OpenID Provider (panva's oidc-provider) for pkg/catalog's
// discovery test: it listens on a free loopback port and prints its issuer
// URL on the first line of standard output.
import http from 'node:http';
import Provider from 'oidc-provider';

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: process.env.OIDC_CLIENT_ID || 'latchkey',
      client_secret: process.env.OIDC_CLIENT_SECRET || 'latchkey-secret',
      redirect_uris: ['https://latchkey.test/oauth/callback'],
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      response_types: ['code'],
      scope: 'openid offline_access profile email',
    }],
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    features: {
      revocation: { enabled: true },
      clientCredentials: { enabled: true },
      devInteractions: { enabled: true },
    },
  });
  server.on('request', provider.callback());
  process.stdout.write(issuer + '\n');
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
