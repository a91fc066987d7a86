package elbv2

import (
	"reflect"
	"testing"

	"github.com/privlink/privlink/internal/awsapi/xmlenc/xmlenctest"
)

// TestXMLShapesMatchEncodingXML fills every named ELBv2 response shape with
// random values: the fast encoder must write what encoding/xml writes, and
// must not fall back for any of them. The handlers' own bodies are checked
// by the EC2 package's TestHandlerBodiesMatchEncodingXML, which has the VPC
// a load balancer needs.
func TestXMLShapesMatchEncodingXML(t *testing.T) {
	xmlenctest.CheckTypes(t,
		reflect.TypeFor[LoadBalancerXML](), reflect.TypeFor[loadBalancersResult](), reflect.TypeFor[memberList](),
		reflect.TypeFor[StateXML](), reflect.TypeFor[AZXML](), reflect.TypeFor[AddressXML](),
		reflect.TypeFor[TargetGroupXML](), reflect.TypeFor[targetGroupsResult](), reflect.TypeFor[MatcherXML](),
		reflect.TypeFor[TargetHealthDescriptionXML](), reflect.TypeFor[ListenerXML](), reflect.TypeFor[listenersResult](),
		reflect.TypeFor[ActionXML](), reflect.TypeFor[Tag](), reflect.TypeFor[Attribute](), reflect.TypeFor[AttributesResult](),
		reflect.TypeFor[ResourceTags](), reflect.TypeFor[empty](),
	)
}
