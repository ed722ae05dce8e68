package validate

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Both Dockerfiles parse with BuildKit's own parser into instructions, and
// its build checks (docker build --check) find nothing to warn about.
func TestDockerfilesParseWithoutWarnings(t *testing.T) {
	for name, path := range map[string]string{"Dockerfile": "../../Dockerfile", "deploy/lb/Dockerfile": "../lb/Dockerfile"} {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			res, err := parser.Parse(f)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			for _, w := range res.Warnings {
				t.Errorf("parser warning: %s", w.Short)
			}
			var warnings []string
			lint := linter.New(&linter.Config{Warn: func(rule, description, url, msg string, _ []parser.Range) {
				warnings = append(warnings, fmt.Sprintf("%s: %s", rule, msg))
			}})
			stages, _, err := instructions.Parse(res.AST, lint)
			if err != nil {
				t.Fatalf("instructions: %v", err)
			}
			for _, w := range warnings {
				t.Errorf("build check: %s", w)
			}
			if len(stages) == 0 {
				t.Fatal("no stage")
			}
			if path != "../../Dockerfile" {
				return
			}
			var user string
			for _, c := range stages[len(stages)-1].Commands {
				if u, ok := c.(*instructions.UserCommand); ok {
					user = u.User
				}
			}
			if uid, _, _ := strings.Cut(user, ":"); user == "" || uid == "0" || uid == "root" {
				t.Errorf("the runtime stage runs as %q, want a non-root user", user)
			}
		})
	}
}
