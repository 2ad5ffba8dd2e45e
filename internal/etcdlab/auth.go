package etcdlab

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// EnableAuth turns etcd's authentication on through cli (a client the
// caller connected, e.g. with the cluster's client certificate): user
// root (password "root-password", role root, as etcd requires before
// auth enable) and user (password, read-write on the keys under prefix
// and nothing else).
func EnableAuth(ctx context.Context, cli *clientv3.Client, prefix, user, password string) error {
	steps := []func() error{
		func() error { _, err := cli.RoleAdd(ctx, "root"); return err },
		func() error { _, err := cli.UserAdd(ctx, "root", "root-password"); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := cli.RoleAdd(ctx, user); return err },
		func() error {
			_, err := cli.RoleGrantPermission(ctx, user, prefix, clientv3.GetPrefixRangeEnd(prefix), clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		},
		func() error { _, err := cli.UserAdd(ctx, user, password); return err },
		func() error { _, err := cli.UserGrantRole(ctx, user, user); return err },
		func() error { _, err := cli.AuthEnable(ctx); return err },
	}
	for i, s := range steps {
		if err := s(); err != nil {
			return fmt.Errorf("etcdlab: auth step %d: %w", i, err)
		}
	}
	return nil
}
