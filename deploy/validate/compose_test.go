package validate

import (
	"context"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// loadCompose loads docker-compose.yml as docker compose does (the Compose
// Specification's schema, interpolation, anchors), with env as the shell's
// environment.
func loadCompose(tb testing.TB, env ...string) (*types.Project, error) {
	tb.Helper()
	opts, err := cli.NewProjectOptions([]string{"../../docker-compose.yml"}, cli.WithName("latchkey"), cli.WithEnv(env))
	if err != nil {
		tb.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

var postgresImage = regexp.MustCompile(`^postgres(:[A-Za-z0-9._-]+)?(@sha256:[0-9a-f]{64})?$`)

// The compose file is valid for Docker Compose's own loader; every service
// either builds its image here or runs PostgreSQL; the balancer's fixed
// address is in the network's subnet and outside the range given out to
// the other containers.
func TestComposeFileLoads(t *testing.T) {
	p, err := loadCompose(t, "LATCHKEY_ENCRYPTION_KEY=k1:AAAA", "LATCHKEY_ADMIN_API_KEY=an-admin-key-for-the-check")
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for name, s := range p.Services {
		if s.Build == nil && !postgresImage.MatchString(s.Image) {
			t.Errorf("service %s: image %q is neither built here nor PostgreSQL", name, s.Image)
		}
		if s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 {
			t.Errorf("service %s: no health check", name)
		}
	}
	for _, r := range []string{"latchkey-1", "latchkey-2"} {
		s, ok := p.Services[r]
		if !ok || s.Build == nil || s.Build.Context != p.WorkingDir {
			t.Fatalf("service %s: want it built from the repository's Dockerfile", r)
		}
		if v := s.Environment["LATCHKEY_ENCRYPTION_KEY"]; v == nil || *v != "k1:AAAA" {
			t.Errorf("service %s: the encryption key does not come from the environment", r)
		}
	}
	lb := p.Services["lb"]
	net := p.Networks["latchkey"]
	addr, err := netip.ParseAddr(lb.Networks["latchkey"].Ipv4Address)
	if err != nil || len(net.Ipam.Config) != 1 {
		t.Fatalf("balancer: address %q, network %+v: want a fixed address on the latchkey network", lb.Networks["latchkey"].Ipv4Address, net.Ipam)
	}
	subnet, err1 := netip.ParsePrefix(net.Ipam.Config[0].Subnet)
	dynamic, err2 := netip.ParsePrefix(net.Ipam.Config[0].IPRange)
	if err1 != nil || err2 != nil || !subnet.Contains(addr) || dynamic.Contains(addr) {
		t.Errorf("balancer: address %s, subnet %s, range %s: want it in the subnet and outside the range", addr, subnet, dynamic)
	}
}

// Without the encryption key or the admin key, the compose file refuses to
// start and says how to make one.
func TestComposeFileNeedsTheSecrets(t *testing.T) {
	_, err := loadCompose(t, "LATCHKEY_ADMIN_API_KEY=an-admin-key-for-the-check")
	if err == nil || !strings.Contains(err.Error(), "keys generate") {
		t.Errorf("without LATCHKEY_ENCRYPTION_KEY: got %v, want an error saying to generate one", err)
	}
	_, err = loadCompose(t, "LATCHKEY_ENCRYPTION_KEY=k1:AAAA")
	if err == nil || !strings.Contains(err.Error(), "admin API key") {
		t.Errorf("without LATCHKEY_ADMIN_API_KEY: got %v, want an error asking for one", err)
	}
}
