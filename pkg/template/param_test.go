package template_test

import (
	"testing"

	"github.com/latchkey/latchkey/pkg/template"
)

func TestParamFunction(t *testing.T) {
	u := template.MustCompile("url", `https://api.example.com/users/{{param "id"}}?q={{param "q"}}&k={{api_key}}`, template.URL)
	if got, want := u.Vars(), []string{"api_key", "param:id", "param:q"}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("Vars: got %v, want %v", got, want)
	}
	out, err := u.Render(map[string]string{"api_key": "k", "param:id": "a/b", "param:q": "x&y"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://api.example.com/users/a%2Fb?q=x%26y&k=k"; out != want {
		t.Fatalf("got %s, want %s", out, want)
	}
	b := template.MustCompile("body", `{"name": {{param "name"}}}`, template.JSONBody)
	if out, _ := b.Render(map[string]string{"param:name": `a"b`}); out != `{"name": "a\"b"}` {
		t.Fatalf("got %s", out)
	}
	for _, bad := range []string{`{{param}}x{{param 1}}`, `{{param .id}}`, `{{param "a" "b"}}`} {
		if _, err := template.Compile("bad", bad, template.Text); err == nil {
			t.Errorf("%s: compiled, want an error", bad)
		}
	}
	// A bare {{param}} is the value named param, as the seed syntax says.
	if tt := template.MustCompile("bare", `{{param}}`, template.Text); tt.Vars()[0] != "param" {
		t.Fatalf("got %v", tt.Vars())
	}
}
