/** Errors shaped the way the AWS SDK v3 throws them, for the fakes of AWS services. */

/**
 * An error the way the SDK throws a service's answer: `name` (the error code), an HTTP status and
 * fault, `$metadata` with the status and a request id.
 */
export function awsServiceError(name: string, message: string, httpStatusCode: number): Error {
  return Object.assign(new Error(message), {
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode, requestId: 'fake-request', attempts: 1, totalRetryDelay: 0 },
  });
}

/**
 * A socket error the way the SDK throws it: a Node error code and `$metadata` WITHOUT an HTTP
 * status (the SDK's retry middleware adds `$metadata` to every error).
 */
export function awsNetworkError(
  code = 'ECONNRESET',
  message = code === 'EPROTO' ? 'write EPROTO ssl3_get_record:wrong version number' : `socket error ${code}`,
): Error {
  return Object.assign(new Error(message), { code, $metadata: { attempts: 1, totalRetryDelay: 0 } });
}
