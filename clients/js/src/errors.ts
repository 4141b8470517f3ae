/** An error answer of chatd: a REST status with its JSON `error` code, or a
 * STOMP ERROR frame's `message` header. */
export class ChatdError extends Error {
  /** HTTP status (REST), or 0 for a STOMP ERROR. */
  readonly status: number;
  /** REST `error` code (`not_found`, `conflict`, …) or the STOMP ERROR's `message`. */
  readonly code: string;
  /** The STOMP ERROR's body or the REST answer's `message`. */
  readonly detail: string;

  constructor(message: string, status: number, code: string, detail = "") {
    super(message);
    this.name = "ChatdError";
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

/** A send or read frame given up on: the client was closed before the server confirmed it. */
export class ChatdClosedError extends Error {
  constructor() {
    super("the chatd client was closed");
    this.name = "ChatdClosedError";
  }
}
