package latchkey

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

const sampleYAML = `
name: crm
settings:
  - {name: client_id, level: org, required: true}
  - {name: access_token, level: user, secret: true}
oauth_configs:
  - name: p
    link_url: https://p.example.com/authorize?client_id={{client_id}}
    token_url: https://p.example.com/token
    access_token_variable_name: access_token
    values: {client_secret: s3cret}
`

func TestParseAppReadsYAMLAndJSONAlike(t *testing.T) {
	y, err := ParseApp([]byte(sampleYAML))
	if err != nil {
		t.Fatal(err)
	}
	j, _ := json.Marshal(y)
	fromJSON, err := ParseApp(j)
	if err != nil {
		t.Fatal(err)
	}
	if fromJSON.Name != "crm" || len(fromJSON.Settings) != 2 || fromJSON.OAuthConfigs[0].TokenURL != "https://p.example.com/token" {
		t.Fatalf("got %+v, want the YAML document's content", fromJSON)
	}
	if err := y.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
}

func TestParseAppNamesUnknownFields(t *testing.T) {
	for _, doc := range []string{sampleYAML + "colour: blue\n", `{"name": "crm", "colour": "blue"}`} {
		_, err := ParseApp([]byte(doc))
		var le *Error
		if !errors.As(err, &le) || le.Code != EINVALID || len(le.Fields) != 1 || le.Fields[0].Field != "colour" {
			t.Errorf("got %v, want an invalid error naming colour", err)
		}
	}
}

func TestRedactHidesSecretConfigValuesAndKeepRedactedRestoresThem(t *testing.T) {
	app, _ := ParseApp([]byte(sampleYAML))
	red := app.Redact()
	if red.OAuthConfigs[0].Values["client_secret"] != Redacted {
		t.Fatalf("got %q, want the secret redacted", red.OAuthConfigs[0].Values["client_secret"])
	}
	if app.OAuthConfigs[0].Values["client_secret"] != "s3cret" {
		t.Fatal("Redact changed the original")
	}
	red.KeepRedacted(app)
	if red.OAuthConfigs[0].Values["client_secret"] != "s3cret" {
		t.Fatal("KeepRedacted did not restore the stored value")
	}
	if strings.Contains(app.String(), "s3cret") {
		t.Fatal("String shows a secret")
	}
}

// FuzzParseApp checks that the document loader never panics, and that what
// it accepts survives a JSON round trip and validation without panicking.
func FuzzParseApp(f *testing.F) {
	f.Add([]byte(sampleYAML))
	f.Add([]byte(`{"name": "crm", "oauth_configs": [{"name": "p", "pkce": false, "refresh_margin": "5m"}]}`))
	f.Add([]byte("name: [unclosed"))
	f.Add([]byte("--- \nname: a\n---\nname: b\n"))
	f.Add([]byte(`{"name": 1}`))
	f.Add([]byte("&a [*a, *a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		app, err := ParseApp(data)
		if err != nil {
			var le *Error
			if !errors.As(err, &le) || le.Code != EINVALID {
				t.Fatalf("got %v, want an invalid error", err)
			}
			return
		}
		_ = app.Validate()
		b, err := json.Marshal(app)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		if _, err := ParseApp(b); err != nil && len(b) <= MaxDocumentSize {
			t.Fatalf("the JSON form of an accepted document is refused: %v", err)
		}
	})
}

func TestParseAppNamesTheFieldOfABadDuration(t *testing.T) {
	const want = "oauth_configs[1].refresh_margin"
	docs := map[string]string{
		"yaml": sampleYAML + "  - name: q\n    refresh_margin: 5 minutes\n",
		"json": `{"name": "crm", "oauth_configs": [{"name": "p"}, {"name": "q", "refresh_margin": "5 minutes"}]}`,
	}
	for format, doc := range docs {
		_, err := ParseApp([]byte(doc))
		var le *Error
		if !errors.As(err, &le) || le.Code != EINVALID || len(le.Fields) != 1 {
			t.Fatalf("%s: got %v, want one invalid field", format, err)
		}
		if le.Fields[0].Field != want || !strings.Contains(le.Fields[0].Message, "duration") {
			t.Errorf("%s: got field %q (%q), want %q saying it is no duration", format, le.Fields[0].Field, le.Fields[0].Message, want)
		}
	}
}

func TestParseAppNamesTheFieldOfAYAMLTypeError(t *testing.T) {
	_, err := ParseApp([]byte(sampleYAML + "  - name: q\n    pkce: [1]\n"))
	var le *Error
	if !errors.As(err, &le) || len(le.Fields) != 1 || le.Fields[0].Field != "oauth_configs[1].pkce" {
		t.Fatalf("got %v (%+v), want the field oauth_configs[1].pkce", err, le)
	}
}

func TestParseAppNamesTheIndexOfAJSONTypeError(t *testing.T) {
	for doc, want := range map[string]string{
		`{"name": "crm", "settings": [{"name": "a", "level": "org"}, {"name": 2, "level": "org"}]}`: "settings[1].name",
		`{"name": "crm", "oauth_configs": [{"name": "p", "refresh_margin": 5}]}`:                    "oauth_configs[0].refresh_margin",
		`{"name": "crm", "oauth_configs": [{"name": "p", "pkce": "no"}]}`:                           "oauth_configs[0].pkce",
		`{"name": 1}`: "name",
	} {
		_, err := ParseApp([]byte(doc))
		var le *Error
		if !errors.As(err, &le) || len(le.Fields) != 1 || le.Fields[0].Field != want {
			t.Errorf("%s: got %v (%+v), want the field %s", doc, err, le, want)
		}
	}
}

func TestParseAppRefusesANullValueNamingItsField(t *testing.T) {
	for doc, want := range map[string]string{
		`{"name": null}`:                    "name",
		`{"name": "crm", "label": null}`:    "label",
		`{"name": "crm", "settings": null}`: "settings",
		`{"name": "crm", "settings": [{"name": "a", "level": "org"}, null]}`:        "settings[1]",
		`{"name": "crm", "oauth_configs": [{"name": "p", "pkce": null}]}`:           "oauth_configs[0].pkce",
		`{"name": "crm", "oauth_configs": [{"name": "p", "refresh_margin": null}]}`: "oauth_configs[0].refresh_margin",
	} {
		_, err := ParseAppAs([]byte(doc), FormatJSON)
		var le *Error
		if !errors.As(err, &le) || le.Code != EINVALID || len(le.Fields) != 1 || le.Fields[0].Field != want {
			t.Errorf("%s: got %v (%+v), want the field %s", doc, err, le, want)
			continue
		}
		if !strings.Contains(le.Fields[0].Message, "null") {
			t.Errorf("%s: the message %q does not say the value is null", doc, le.Fields[0].Message)
		}
	}
	// A string "null" is a value, and YAML's empty value still means left out.
	if _, err := ParseAppAs([]byte(`{"name": "crm", "label": "null"}`), FormatJSON); err != nil {
		t.Errorf("the string \"null\" is refused: %v", err)
	}
	if _, err := ParseAppAs([]byte("name: crm\nlabel:\n"), FormatYAML); err != nil {
		t.Errorf("an empty YAML value is refused: %v", err)
	}
}
