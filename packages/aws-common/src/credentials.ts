/** AWS credentials and SDK client settings of the backends. */
import { fromIni, fromNodeProviderChain } from '@aws-sdk/credential-providers';

/**
 * The credential provider of a backend: the named profile (shared config/credentials files, SSO)
 * or, without one, the default chain (environment, shared files, instance/task role). Credentials
 * are resolved lazily by the SDK, never stored or logged by ScriptHut.
 *
 * @example
 * ```ts
 * const client = new BatchClient({ region, credentials: awsCredentials(cfg.aws.profile), maxAttempts: 1 });
 * ```
 */
export function awsCredentials(
  profile?: string | null,
): ReturnType<typeof fromIni> | ReturnType<typeof fromNodeProviderChain> {
  return profile ? fromIni({ profile }) : fromNodeProviderChain();
}

/** What {@link awsClientConfig} returns: spread it into any `new <Service>Client(...)`. */
export interface AwsClientConfig {
  region: string;
  credentials: ReturnType<typeof awsCredentials>;
  maxAttempts: number;
  requestHandler: { connectionTimeout: number; requestTimeout: number; throwOnRequestTimeout: boolean };
}

/** Options of {@link awsClientConfig}. */
export interface AwsClientConfigOptions {
  region: string;
  /** Named profile, or null/undefined for the default chain. */
  profile?: string | null;
  /** Time to wait for a TCP/TLS connection (default 10 000 ms). */
  connectionTimeoutMs?: number;
  /** Time to wait for an answer once connected (default 60 000 ms). */
  requestTimeoutMs?: number;
}

/**
 * The configuration of every SDK client ScriptHut creates: region, credentials
 * ({@link awsCredentials}), the SDK's own retries off (`maxAttempts: 1`: the `AwsCaller` retries,
 * with backoff, in one place) and socket timeouts that THROW. Without `throwOnRequestTimeout` the
 * SDK only logs a warning when an answer is late and the call can hang for ever, blocking a
 * backend's poll loop.
 *
 * @example
 * ```ts
 * const ecs = new ECSClient(awsClientConfig({ region: 'eu-west-1', profile: cfg.aws.profile }));
 * ```
 */
export function awsClientConfig(options: AwsClientConfigOptions): AwsClientConfig {
  return {
    region: options.region,
    credentials: awsCredentials(options.profile),
    maxAttempts: 1,
    requestHandler: {
      connectionTimeout: options.connectionTimeoutMs ?? 10_000,
      requestTimeout: options.requestTimeoutMs ?? 60_000,
      throwOnRequestTimeout: true,
    },
  };
}
