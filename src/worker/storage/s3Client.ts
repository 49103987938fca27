import { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../../shared/config';

/**
 * Credentials come from the SDK's default chain (environment, profile, container or instance
 * role), never from our configuration, so no secret passes through the Config object.
 */
export function createS3Client(config: Config): S3Client {
  const { endpoint, region, forcePathStyle } = config.s3;
  return new S3Client({
    endpoint,
    region,
    forcePathStyle,
    // lib-storage sends parts without our abort signal: these bounds keep a stalled S3 from
    // holding a job (and its part buffers) forever.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000 },
  });
}
