/**
 * A failure an operator can act on (a busy port, a locked or corrupt data
 * file): the command prints its message alone, without a stack trace.
 */
export class OperatorError extends Error {}
