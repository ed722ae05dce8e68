package latchkey

import (
	"strings"
	"testing"
)

// TestIDGrammar lists ids the grammar accepts and refuses, and checks that
// every refusal states the grammar.
func TestIDGrammar(t *testing.T) {
	for _, id := range []string{"acme", "user@example.com", "a.b_c~d-e", "x:y=z+1", "Ærøskøbing", "東京", "a*b(c)!", "...", strings.Repeat("x", 200)} {
		if err := CheckID(id); err != nil {
			t.Errorf("CheckID(%q): got %v, want it accepted", id, err)
		}
	}
	for _, id := range []string{"", ".", "..", "a b", "a/b", `a\b`, "a%2Fb", "a?b", "a#b", "a\x00b", "a\xffb", "a\tb",
		"a\u200bb", "a\u00a0b", "cafe\u0301", "a\u202eb", strings.Repeat("x", 201)} {
		err := CheckID(id)
		if err == nil {
			t.Errorf("CheckID(%q): got nil, want it refused", id)
		} else if !strings.Contains(err.Error(), IDRule) {
			t.Errorf("CheckID(%q): got %q, want the message to state the grammar", id, err)
		}
	}
}

// TestSettingNamesTemplatesCannotUseAreRefused checks the names a bare
// {{name}} cannot reach.
func TestSettingNamesTemplatesCannotUseAreRefused(t *testing.T) {
	for _, name := range []string{"_lk_x", "true", "false", "nil", "if", "range", "end", "call", "1a", "a-b", ""} {
		if ValidSettingName(name) {
			t.Errorf("ValidSettingName(%q): got true, want false", name)
		}
	}
	for _, name := range []string{"client_id", "_private", "Token2", "truth", "nil_value"} {
		if !ValidSettingName(name) {
			t.Errorf("ValidSettingName(%q): got false, want true", name)
		}
	}
}
