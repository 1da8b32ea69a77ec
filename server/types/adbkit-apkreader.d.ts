/** The part of @devicefarmer/adbkit-apkreader that Cartable uses (the package ships no types). */
declare module '@devicefarmer/adbkit-apkreader' {
  interface ParsedManifest {
    package?: unknown;
    versionCode?: unknown;
    versionName?: unknown;
    usesSdk?: { minSdkVersion?: unknown; targetSdkVersion?: unknown };
    application?: { label?: unknown };
  }
  class ApkReader {
    static open(path: string | Buffer): Promise<ApkReader>;
    readManifest(): Promise<ParsedManifest>;
  }
  export = ApkReader;
}
