package route53

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/privlink/privlink/internal/cloud"
)

func TestRoute(t *testing.T) {
	cases := []struct {
		method, path, op, id string
	}{
		{"POST", "/2013-04-01/hostedzone", "CreateHostedZone", ""},
		{"GET", "/2013-04-01/hostedzone", "ListHostedZones", ""},
		{"GET", "/2013-04-01/hostedzone/Z123", "GetHostedZone", "Z123"},
		{"DELETE", "/2013-04-01/hostedzone/Z123", "DeleteHostedZone", "Z123"},
		{"POST", "/2013-04-01/hostedzone/Z123/rrset/", "ChangeResourceRecordSets", "Z123"},
		{"POST", "/2013-04-01/hostedzone/Z123/rrset", "ChangeResourceRecordSets", "Z123"},
		{"GET", "/2013-04-01/hostedzone/Z123/rrset", "ListResourceRecordSets", "Z123"},
		{"GET", "/2013-04-01/change/C123", "GetChange", "C123"},
		{"PUT", "/2013-04-01/hostedzone", "", ""},
		{"GET", "/2013-04-01/healthcheck", "", ""},
		{"GET", "/", "", ""},
		{"POST", "/2013-04-01/hostedzone//rrset", "", ""},
	}
	for _, tc := range cases {
		op, id, ok := route(tc.method, tc.path)
		if op != tc.op || id != tc.id || ok != (tc.op != "") {
			t.Errorf("route(%s %s) = %q %q %v, want %q %q", tc.method, tc.path, op, id, ok, tc.op, tc.id)
		}
	}
}

func TestDecodeChangeBatch(t *testing.T) {
	body := `<?xml version="1.0" encoding="UTF-8"?>
<ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeBatch><Comment>c</Comment><Changes>
<Change><Action>UPSERT</Action><ResourceRecordSet><Name>_x.example.com</Name><Type>TXT</Type><TTL>300</TTL>
<ResourceRecords><ResourceRecord><Value>"a"</Value></ResourceRecord><ResourceRecord><Value>"b"</Value></ResourceRecord></ResourceRecords></ResourceRecordSet></Change>
<Change><Action>CREATE</Action><ResourceRecordSet><Name>a.example.com</Name><Type>A</Type><AliasTarget><HostedZoneId>Z1</HostedZoneId></AliasTarget></ResourceRecordSet></Change>
</Changes></ChangeBatch></ChangeResourceRecordSetsRequest>`
	var in changeResourceRecordSetsRequest
	if err := decodeBody([]byte(body), &in); err != nil {
		t.Fatal(err)
	}
	ch := in.ChangeBatch.Changes
	if in.ChangeBatch.Comment != "c" || len(ch) != 2 || ch[0].Action != "UPSERT" || *ch[0].ResourceRecordSet.TTL != 300 ||
		len(ch[0].ResourceRecordSet.ResourceRecords.Records) != 2 || ch[0].ResourceRecordSet.unsupported() != "" || ch[1].ResourceRecordSet.unsupported() != "AliasTarget" {
		t.Fatalf("decoded %+v", in)
	}
	if err := decodeBody([]byte("<oops"), &in); err == nil || !strings.Contains(err.Error(), "InvalidInput") {
		t.Fatalf("malformed body: %v", err)
	}
}

func TestResponseShape(t *testing.T) {
	out := &listResourceRecordSetsResponse{Xmlns: Xmlns, IsTruncated: false, MaxItems: "300", ResourceRecordSets: []recordSetXML{{Name: escapeName("*.example.com."), Type: "TXT"}}}
	b, err := xml.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	want := `<ListResourceRecordSetsResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ResourceRecordSets><ResourceRecordSet><Name>\052.example.com.</Name><Type>TXT</Type></ResourceRecordSet></ResourceRecordSets><IsTruncated>false</IsTruncated><MaxItems>300</MaxItems></ListResourceRecordSetsResponse>`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	if e, ok := cloud.AsError(apiError(&cloud.Error{Code: "UnauthorizedOperation", Message: "no", Status: 403})); !ok || e.Code != "AccessDenied" || e.Status != 403 {
		t.Fatalf("authorization error = %+v", e)
	}
}
