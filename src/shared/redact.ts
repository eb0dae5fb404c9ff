/** Removes anything that looks like a bearer token or JWT from text bound for logs, spans or dead-letter descriptions. */
export function redactSecrets(text: string): string {
  return text
    .replace(/eyJ[\w-]*\.[\w-]*\.[\w-]*/g, "[redacted-jwt]")
    .replace(/(bearer\s+)[\w.~+/=-]+/gi, "$1[redacted]")
    .replace(/(SharedAccessKey|SharedAccessSignature|sig)=([^;&\s"]+)/gi, "$1=[redacted]");
}

/** First `max` characters of a redacted, single-line text. */
export function excerpt(text: string, max = 300): string {
  const line = redactSecrets(text).replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}
