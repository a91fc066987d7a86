package route53

import (
	"reflect"
	"testing"

	"github.com/privlink/privlink/internal/awsapi/xmlenc"
	"github.com/privlink/privlink/internal/awsapi/xmlenc/xmlenctest"
)

// TestXMLShapesMatchEncodingXML classifies the Route 53 response shapes.
// Route 53 renders them itself with encoding/xml (not through encodeInner),
// but should they move to the fast encoder: the top-level responses carry
// an xmlns attribute and record sets an innerxml field, so those must fall
// back; the rest must encode as encoding/xml does.
func TestXMLShapesMatchEncodingXML(t *testing.T) {
	var enc xmlenc.Encoder
	for i, tc := range []struct {
		typ          reflect.Type
		wantFallback bool
	}{
		{reflect.TypeFor[hostedZoneXML](), false},
		{reflect.TypeFor[changeInfoXML](), false},
		{reflect.TypeFor[delegationSetXML](), false},
		{reflect.TypeFor[resourceRecordsXML](), false},
		{reflect.TypeFor[recordSetXML](), true}, // *anyXML: ,innerxml
		{reflect.TypeFor[createHostedZoneResponse](), true},
		{reflect.TypeFor[getHostedZoneResponse](), true},
		{reflect.TypeFor[listHostedZonesResponse](), true},
		{reflect.TypeFor[deleteHostedZoneResponse](), true},
		{reflect.TypeFor[changeResourceRecordSetsResponse](), true},
		{reflect.TypeFor[listResourceRecordSetsResponse](), true},
		{reflect.TypeFor[getChangeResponse](), true},
	} {
		t.Run(tc.typ.Name(), func(t *testing.T) {
			xmlenctest.CheckType(t, &enc, tc.typ, tc.wantFallback, uint64(i), 300)
		})
	}
}
