/** Failures of the blob store that callers turn into their protocol's answers. */
export class DigestMismatchError extends Error {
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`the content's digest is ${actual}, not ${expected}`);
    this.name = 'DigestMismatchError';
  }
}

export class BlobTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`the content is larger than the limit of ${limit} bytes`);
    this.name = 'BlobTooLargeError';
  }
}

export class UploadOffsetError extends Error {
  constructor(
    readonly expected: number,
    readonly given: number,
  ) {
    super(`the upload holds ${expected} bytes; a chunk must start there, not at ${given}`);
    this.name = 'UploadOffsetError';
  }
}

export class UnknownUploadError extends Error {
  constructor(readonly id: string) {
    super(`no upload ${id}`);
    this.name = 'UnknownUploadError';
  }
}

/** A chunk whose length is not the one its request announced (`Content-Range`); nothing of it is kept. */
export class ChunkLengthError extends Error {
  constructor(
    readonly announced: number,
    readonly received: number,
  ) {
    super(`the chunk announced ${announced} bytes but ${received > announced ? 'more' : received} arrived`);
    this.name = 'ChunkLengthError';
  }
}
