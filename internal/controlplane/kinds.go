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
	}
}
