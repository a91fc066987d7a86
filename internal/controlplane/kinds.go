package controlplane

import (
	"github.com/privlink/privlink/internal/cloud"
	"github.com/privlink/privlink/internal/store"
)

// Kinds lists the store kinds of every resource family the control plane owns.
func Kinds() store.Kinds {
	return store.Kinds{
		cloud.KindVpc:              func() any { return new(cloud.Vpc) },
		cloud.KindSubnet:           func() any { return new(cloud.Subnet) },
		cloud.KindSecurityGroup:    func() any { return new(cloud.SecurityGroup) },
		cloud.KindNetworkAcl:       func() any { return new(cloud.NetworkAcl) },
		cloud.KindRouteTable:       func() any { return new(cloud.RouteTable) },
		cloud.KindInternetGateway:  func() any { return new(cloud.InternetGateway) },
		cloud.KindPrefixList:       func() any { return new(cloud.ManagedPrefixList) },
		cloud.KindInstance:         func() any { return new(cloud.Instance) },
		cloud.KindNetworkInterface: func() any { return new(cloud.NetworkInterface) },
		cloud.KindClientToken:      func() any { return new(cloud.ClientTokenRecord) },
		// PrivateLink (endpoint*.go).
		cloud.KindVpcEndpoint:            func() any { return new(cloud.VpcEndpoint) },
		cloud.KindVpcEndpointService:     func() any { return new(cloud.VpcEndpointService) },
		cloud.KindConnectionNotification: func() any { return new(cloud.ConnectionNotification) },
		cloud.KindEndpointEvent:          func() any { return new(cloud.EndpointEvent) },
		// ELBv2 (loadbalancer.go, targetgroup.go, listener.go).
		cloud.KindLoadBalancer: func() any { return new(cloud.LoadBalancer) },
		cloud.KindTargetGroup:  func() any { return new(cloud.TargetGroup) },
		cloud.KindListener:     func() any { return new(cloud.Listener) },
		// Route 53 public hosted zones (hostedzone.go).
		cloud.KindHostedZone:    func() any { return new(cloud.HostedZone) },
		cloud.KindRoute53Change: func() any { return new(cloud.Route53Change) },
	}
}
