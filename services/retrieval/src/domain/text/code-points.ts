// The platform's one set of code-point helpers (also used by feedback span offsets).
export { codePointLength, utf16Index, codePointIndex } from '@tessera/structured';
