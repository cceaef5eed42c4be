package xerosim_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/softbooq/xerosync/xero/xerosim"
)

// Example shows the setup a client test or the demo uses: one server for
// login_url, identity_url and api_url, one organisation, and tokens issued
// without the browser step.
func Example() {
	sim, srv := xerosim.Start(xerosim.Config{})
	defer srv.Close()
	tenantID := sim.MustAddOrg(xerosim.DefaultOrg("Demo Company (NZ)"))

	ts, err := sim.IssueTokens(xerosim.DefaultClient().ID,
		strings.Fields("offline_access accounting.contacts accounting.transactions accounting.settings.read"))
	if err != nil {
		panic(err)
	}
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/api.xro/2.0/Contacts?summarizeErrors=false",
		strings.NewReader(`{"Contacts":[{"Name":"Rita Smith","ContactNumber":"42"}]}`))
	req.Header.Set("Authorization", "Bearer "+ts.AccessToken)
	req.Header.Set("Xero-Tenant-Id", tenantID)
	req.Header.Set("Idempotency-Key", "contact-42-v1")
	resp, err := srv.Client().Do(req)
	if err != nil {
		panic(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	srv.Client().CloseIdleConnections()

	fmt.Println(resp.StatusCode, resp.Header.Get("X-MinLimit-Remaining"))
	fmt.Println(sim.ContactCreations(tenantID, "42"), sim.Contacts(tenantID)[0].Name)
	// Output:
	// 200 59
	// 1 Rita Smith
}
