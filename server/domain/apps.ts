/** What the catalog holds, per platform: how an app is identified and where its binary comes from. */
export const APP_PLATFORMS = ['android', 'ios', 'windows'] as const;
export type AppPlatform = (typeof APP_PLATFORMS)[number];

/**
 * `apk`: an Android package uploaded to Cartable; `app_store`: an iPad app of the App Store,
 * entered by its store id; `in_house`: an iPad app the organisation hosts (a manifest URL);
 * `msi` and `msix`: Windows installers uploaded to Cartable.
 */
export const APP_KINDS = ['apk', 'app_store', 'in_house', 'msi', 'msix'] as const;
export type AppKind = (typeof APP_KINDS)[number];
