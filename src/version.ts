/** The version the build stamps in (package.json's), or `development` when run from source. */
declare const __VERSION__: string | undefined;
export const VERSION = typeof __VERSION__ === 'string' ? __VERSION__ : 'development';
