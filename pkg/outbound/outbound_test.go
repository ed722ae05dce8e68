package outbound_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/outbound"
)

func TestCheckRefusesAddressesThatAreNotPublic(t *testing.T) {
	for addr, refused := range map[string]bool{
		"127.0.0.1": true, "::1": true, "10.1.2.3": true, "172.16.0.1": true, "192.168.1.1": true,
		"169.254.169.254": true, "fe80::1": true, "fd00:ec2::254": true, "100.64.0.1": true, "0.0.0.0": true,
		"::": true, "224.0.0.1": true, "::ffff:127.0.0.1": true, "::ffff:169.254.169.254": true, "255.255.255.255": true,
		"8.8.8.8": false, "2606:4700:4700::1111": false, "93.184.216.34": false,
	} {
		err := outbound.Check(netip.MustParseAddr(addr))
		if got := err != nil; got != refused {
			t.Errorf("Check(%s): got refused=%v (%v), want %v", addr, got, err, refused)
		}
		if err != nil && !errors.Is(err, outbound.ErrForbiddenAddress) {
			t.Errorf("Check(%s): got %v, want an ErrForbiddenAddress", addr, err)
		}
	}
}

// TestTheCheckRunsOnTheDialledAddress: a name that resolves to a loopback
// address (as a rebinding host does on its second lookup) is refused, and
// allowed only with AllowPrivate.
func TestTheCheckRunsOnTheDialledAddress(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	resolve := func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	for _, allow := range []bool{false, true} {
		client := outbound.NewClient(5*time.Second, outbound.Options{AllowPrivate: allow, Resolve: resolve})
		for _, u := range []string{srv.URL, "http://rebind.example.com:" + port} {
			resp, err := client.Get(u)
			if allow {
				if err != nil || resp.StatusCode != http.StatusNoContent {
					t.Errorf("AllowPrivate, GET %s: got %v, want 204", u, err)
				}
			} else if !errors.Is(err, outbound.ErrForbiddenAddress) {
				t.Errorf("GET %s: got %v, want ErrForbiddenAddress", u, err)
			}
			if resp != nil {
				resp.Body.Close()
			}
		}
	}
}
