package people

import (
	"os"
	"strings"
	"testing"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// The README's role table ("People and roles") says what pulse.Role.Can
// answers: each row names the actions it stands for.
func TestReadmeRoleTable(t *testing.T) {
	t.Parallel()
	rows := []struct {
		prefix  string
		actions []pulse.Action
	}{
		{"| read:", []pulse.Action{pulse.ActRead}},
		{"| acknowledge alerts", []pulse.Action{pulse.ActAcknowledge, pulse.ActSilence}},
		{"| send events", []pulse.Action{pulse.ActIngest}},
		{"| manage rules", []pulse.Action{pulse.ActManageRules}},
		{"| create and rotate API keys", []pulse.Action{pulse.ActManageKeys}},
		{"| revoke API keys", []pulse.Action{pulse.ActDeleteKeys}},
		{"| invite, change roles", []pulse.Action{pulse.ActManageMembers}},
		{"| grant, change or remove the owner role", []pulse.Action{pulse.ActManageOwners}},
		{"| read the audit log", []pulse.Action{pulse.ActReadAudit}},
	}
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "## People and roles\n")
	if !ok {
		t.Fatal("README has no \"People and roles\" section")
	}
	lines := strings.Split(section, "\n")
	for _, row := range rows {
		var line string
		for _, l := range lines {
			if strings.HasPrefix(l, row.prefix) {
				line = l
				break
			}
		}
		if line == "" {
			t.Errorf("README role table has no row %q", row.prefix)
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")[1:]
		if len(cells) != len(pulse.Roles) {
			t.Errorf("row %q has %d role columns, want %d", row.prefix, len(cells), len(pulse.Roles))
			continue
		}
		for i, role := range pulse.Roles { // owner, admin, member, viewer: the table's column order
			shown := strings.TrimSpace(cells[i]) == "✓"
			for _, a := range row.actions {
				if role.Can(a) != shown {
					t.Errorf("README row %q, %s: shows %t, pulse says %s.Can(%s) = %t", row.prefix, role, shown, role, a, role.Can(a))
				}
			}
		}
	}
}
