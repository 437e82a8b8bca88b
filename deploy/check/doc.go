// Package check validates Watershed's operator entry points with the real
// tools' own code, since CI has no Docker engine and no cluster:
//
//   - docker-compose.yml is loaded, interpolated with deploy/.env.example
//     and credentials made by deploy/init-secrets.sh, and validated by the
//     compose specification's Go library (compose-go), then checked for
//     what Watershed promises: one Dockerfile for every service, every
//     service module present, required variables set, hardened containers,
//     healthchecks and dependencies on healthy infrastructure;
//   - the Helm chart under helm/watershed is linted strictly and rendered
//     with Helm's Go SDK (default and CI values), and every manifest is
//     decoded strictly into the Kubernetes API types (unknown fields are
//     errors); every Deployment must carry probes, resources and the
//     restricted security context, and a default-deny NetworkPolicy must
//     exist.
//
// The tests are the package; cmd/probe is the healthcheck binary copied
// into every image.
package check
