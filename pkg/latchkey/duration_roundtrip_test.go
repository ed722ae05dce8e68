package latchkey

import (
	"encoding/json"
	"testing"
	"time"
)

// TestDurationIsAnsweredAsWritten: a refresh_margin written as "5m" comes
// back as "5m", not Go's "5m0s" (issue 17).
func TestDurationIsAnsweredAsWritten(t *testing.T) {
	for in, want := range map[string]string{"5m": "5m", "1h30m": "1h30m", "24h": "24h", "90s": "1m30s"} {
		var d Duration
		if err := d.UnmarshalText([]byte(in)); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(b); got != `"`+want+`"` {
			t.Errorf("%s answered as %s, want %q", in, got, want)
		}
	}
	if FormatDuration(5*time.Minute) != "5m" {
		t.Error("FormatDuration(5m)")
	}
}
