package archive

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/watershed-grid/watershed/ponds/internal/secret"
	"gocloud.dev/blob"
	"gocloud.dev/blob/azureblob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/blob/memblob"
	"gocloud.dev/blob/s3blob"
)

// ErrUnsupportedScheme: a bucket URL whose scheme no driver here opens.
var ErrUnsupportedScheme = errors.New("archive: unsupported bucket URL scheme")

// Schemes are the bucket URL schemes [OpenBucket] opens.
var Schemes = []string{fileblob.Scheme, s3blob.Scheme, gcsblob.Scheme, azureblob.Scheme, memblob.Scheme}

// OpenBucket opens the pond's bucket by URL with gocloud.dev/blob:
//
//	file:///var/lib/watershed/pond      a local folder (created if missing); a bare path means the same
//	s3://bucket?region=eu-west-1        AWS S3; credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
//	                                     AWS_PROFILE or the instance role (the AWS SDK's default chain)
//	s3://bucket?endpoint=http://127.0.0.1:17070&use_path_style=true&region=us-east-1
//	                                     any S3-compatible store (MinIO, versitygw, Ceph, ...)
//	gs://bucket                         Google Cloud Storage; Application Default Credentials
//	azblob://container                  Azure Blob Storage; AZURE_STORAGE_ACCOUNT with
//	                                     AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN or Azure AD
//	mem://                              in memory, for tests
//
// Every URL takes prefix=<folder/> to keep the pond under a folder of the
// bucket. s3:// also takes disable_https, dualstack, fips, profile,
// hostname_immutable, request_checksum_calculation (set when_required for
// stores that reject the SDK's default checksums) and the rest of
// gocloud.dev/aws's parameters. file:// writes each object to a temporary
// file beside it and renames it into place, so a reader never sees half a
// file, and writes no metadata sidecar files.
//
// Drivers are registered on a URL mux of this call, not globally.
func OpenBucket(ctx context.Context, bucketURL string) (*blob.Bucket, error) {
	u, err := parseBucketURL(bucketURL)
	if err != nil {
		return nil, err
	}
	mux := new(blob.URLMux)
	mux.RegisterBucket(fileblob.Scheme, &fileblob.URLOpener{Options: fileblob.Options{
		CreateDir: true,
		NoTempDir: true, // the temp file sits beside the object: rename never crosses file systems
		Metadata:  fileblob.MetadataDontWrite,
	}})
	mux.RegisterBucket(s3blob.Scheme, new(s3blob.URLOpener))
	mux.RegisterBucket(memblob.Scheme, new(memblob.URLOpener))
	// The GCS and Azure openers find their credentials in the environment
	// on first use; their packages register them on the default mux.
	mux.RegisterBucket(gcsblob.Scheme, defaultOpener{})
	mux.RegisterBucket(azureblob.Scheme, defaultOpener{})
	b, err := mux.OpenBucketURL(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("archive: open bucket %s: %w", redact(u), scrubErr(err, u))
	}
	return b, nil
}

// parseBucketURL accepts a URL of a supported scheme, or a bare path.
func parseBucketURL(s string) (*url.URL, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty URL: use a path or a URL of %s (file:///path, s3://bucket, gs://bucket, azblob://container)", ErrUnsupportedScheme, strings.Join(Schemes, ", "))
	}
	if !strings.Contains(s, "://") {
		abs, err := filepath.Abs(s)
		if err != nil {
			return nil, fmt.Errorf("archive: bucket path %q: %w", s, err)
		}
		return &url.URL{Scheme: fileblob.Scheme, Path: filepath.ToSlash(abs)}, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		// url.Parse's error quotes the URL, credentials included
		return nil, fmt.Errorf("archive: bucket URL %q: %w", secret.URL(s), secret.ParseCause(err))
	}
	if !slices.Contains(Schemes, u.Scheme) {
		return nil, fmt.Errorf("%w: %q in %s: use one of %s", ErrUnsupportedScheme, u.Scheme, redact(u), strings.Join(Schemes, ", "))
	}
	return u, nil
}

type defaultOpener struct{}

func (defaultOpener) OpenBucketURL(ctx context.Context, u *url.URL) (*blob.Bucket, error) {
	return blob.DefaultURLMux().OpenBucketURL(ctx, u)
}

// scrubErr returns err, or when its message quotes one of u's secrets (a
// driver's error may quote the URL), an error with them replaced.
func scrubErr(err error, u *url.URL) error {
	msg := err.Error()
	var secrets []string
	if pw, ok := u.User.Password(); ok && pw != "" {
		secrets = append(secrets, pw)
	}
	if n := u.User.Username(); n != "" {
		secrets = append(secrets, n)
	}
	for k, vs := range u.Query() {
		lk := strings.ToLower(k)
		if lk == "sig" || strings.Contains(lk, "secret") || strings.Contains(lk, "token") || strings.Contains(lk, "key") || strings.Contains(lk, "password") {
			secrets = append(secrets, vs...)
		}
	}
	clean := msg
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		clean = strings.ReplaceAll(clean, url.QueryEscape(sec), "REDACTED")
		clean = strings.ReplaceAll(clean, sec, "REDACTED")
	}
	if clean == msg {
		return err
	}
	return errors.New(clean)
}

// RedactURL returns the bucket URL s without the secrets it may carry
// (user info, SAS tokens, secret or token parameters), for messages.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return secret.URL(s)
	}
	return redact(u)
}

// redact drops secrets a URL may carry (user info, SAS tokens) for messages.
func redact(u *url.URL) string {
	c := *u
	c.User = nil
	q := c.Query()
	for k := range q {
		if lk := strings.ToLower(k); lk == "sig" || strings.Contains(lk, "secret") || strings.Contains(lk, "token") || strings.Contains(lk, "key") || strings.Contains(lk, "password") {
			q.Set(k, "REDACTED")
		}
	}
	c.RawQuery = q.Encode()
	return c.String()
}

// ObjectURL returns where an analyst's tool finds the object key of the
// pond at bucketURL: a local path for file:// (and bare paths), and
// s3://, gs:// or az:// (DuckDB's name for Azure) URLs otherwise, with the
// bucket URL's prefix applied.
func ObjectURL(bucketURL, key string) (string, error) {
	u, err := parseBucketURL(bucketURL)
	if err != nil {
		return "", err
	}
	prefix := u.Query().Get("prefix")
	switch u.Scheme {
	case fileblob.Scheme:
		p := u.Path
		if u.Host == "." { // file://./relative
			p = strings.TrimPrefix(p, "/")
		}
		return filepath.Join(filepath.FromSlash(p), filepath.FromSlash(prefix+key)), nil
	case azureblob.Scheme:
		return "az://" + u.Host + "/" + prefix + key, nil
	case memblob.Scheme:
		return "", fmt.Errorf("archive: a mem:// pond has no URL outside this process")
	}
	return u.Scheme + "://" + u.Host + "/" + prefix + key, nil
}
