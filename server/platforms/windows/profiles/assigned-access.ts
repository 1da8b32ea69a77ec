import { XMLBuilder } from 'fast-xml-parser';

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@', suppressEmptyNode: true });

/**
 * The AssignedAccess CSP's `Configuration`: one profile running one packaged app, signed in
 * automatically with the local account Windows creates for it (kioskUser0), so the tablet needs
 * no account of its own.
 */
export function assignedAccessXml(aumid: string, profileGuid: string): string {
  const id = `{${profileGuid}}`;
  return builder.build({
    AssignedAccessConfiguration: {
      '@xmlns': 'http://schemas.microsoft.com/AssignedAccess/2017/config',
      '@xmlns:rs5': 'http://schemas.microsoft.com/AssignedAccess/201810/config',
      Profiles: { Profile: { '@Id': id, KioskModeApp: { '@AppUserModelId': aumid } } },
      Configs: { Config: { AutoLogonAccount: { '@rs5:DisplayName': 'Élève' }, DefaultProfile: { '@Id': id } } },
    },
  }) as string;
}
