package latchkey

import (
	"fmt"
	"sort"
	"strconv"
)

// ValidateInstallation checks the org-level values an org fills in when it
// installs the app: every name must be an org-level setting of the app, and
// every required org-level setting must have a value (given, or a default).
func (a *App) ValidateInstallation(values map[string]string) error {
	var fe FieldErrors
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s, ok := a.Setting(name)
		switch {
		case CheckLine(name) != nil:
			fe.Add(strconv.QuoteToASCII(name), "is not a setting name: %v", CheckLine(name))
		case !ok:
			fe.Add(name, "is not a setting of app %q", a.Name)
		case s.Level != LevelOrg:
			fe.Add(name, "is a %s-level setting; an installation sets only org-level settings", s.Level)
		case len(values[name]) > 64<<10:
			fe.Add(name, "is longer than 64 KiB")
		case values[name] == Redacted:
			fe.Add(name, "is the redaction placeholder %q, which stands for a stored value in listings and is never a value: send the value itself", Redacted)
		default:
			if err := CheckText(values[name]); err != nil {
				fe.Add(name, "%v", err)
			}
		}
	}
	for _, s := range a.Settings {
		if s.Level == LevelOrg && s.Required && values[s.Name] == "" && s.Default == "" {
			fe.Add(s.Name, "is required")
		}
	}
	return fe.Err(fmt.Sprintf("the installation of app %q is invalid", a.Name))
}

// MissingRequired returns the names of required org-level settings that
// neither values, the config's fixed values nor a default fill.
func (a *App) MissingRequired(values map[string]string, cfg *OAuthConfig) []string {
	var missing []string
	for _, s := range a.Settings {
		if s.Level != LevelOrg || !s.Required || values[s.Name] != "" || s.Default != "" {
			continue
		}
		if cfg != nil && cfg.Values[s.Name] != "" {
			continue
		}
		missing = append(missing, s.Name)
	}
	return missing
}

// OrgValues returns the values that name an org-level setting of the app,
// leaving out those of settings the document no longer declares (or
// declares user-level): an installation keeps them until its next write,
// and nothing reads them.
func (a *App) OrgValues(values map[string]string) map[string]string {
	out := make(map[string]string, len(values))
	for k, v := range values {
		if s, ok := a.Setting(k); ok && s.Level == LevelOrg {
			out[k] = v
		}
	}
	return out
}

// RedactValues returns a copy of org or user values with every secret value
// replaced by Redacted.
func (a *App) RedactValues(values map[string]string) map[string]string {
	out := make(map[string]string, len(values))
	for k, v := range values {
		if a.IsSecret(k) {
			v = Redacted
		}
		out[k] = v
	}
	return out
}
