/** AWS credentials for the backends' SDK clients. */
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
