package daemon

import (
	"strings"
	"testing"

	"github.com/softbooq/xerosync/xero"
)

// connect asks on a terminal which organisation to link when the authorisation granted
// several and --org was not given: three tries, then the --org advice.
func TestPromptOrg(t *testing.T) {
	t.Parallel()
	conns := []xero.Connection{
		{TenantID: "t-1", TenantName: "Kiwi Kitchens Ltd"},
		{TenantID: "t-2", TenantName: "Demo Company (NZ)"},
		{TenantID: "t-3", TenantName: "Tūī Trading"},
	}
	tests := []struct {
		name, input string
		want        string // the chosen tenant id; "" for an error
	}{
		{"a number", "2\n", "t-2"},
		{"spaces around it", "  3 \n", "t-3"},
		{"a wrong answer, then a right one", "Kiwi\n0\n1\n", "t-1"},
		{"three wrong answers", "x\n4\n-1\n2\n", ""},
		{"no input", "", ""},
		{"the last line without a newline", "3", "t-3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out strings.Builder
			inv := &invocation{p: MainParams{Stdin: strings.NewReader(tt.input), Stdout: &out}}
			got, err := promptOrg(inv, conns)
			if !strings.Contains(out.String(), "2) Demo Company (NZ)  (Xero tenant id t-2)") {
				t.Errorf("the prompt does not list the organisations:\n%s", out.String())
			}
			if tt.want == "" {
				if err == nil || !strings.Contains(err.Error(), "--org NAME_OR_XERO_TENANT_ID") {
					t.Fatalf("chose %+v, %v; want an error with the --org advice", got, err)
				}
				return
			}
			if err != nil || got.TenantID != tt.want {
				t.Fatalf("chose %+v, %v; want %s", got, err, tt.want)
			}
		})
	}
}
