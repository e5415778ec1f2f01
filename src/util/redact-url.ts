/** Store URLs (redis://user:password@host) may carry credentials; nothing that logs or prints one may show them. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
