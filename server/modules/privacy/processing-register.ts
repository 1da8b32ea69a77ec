import type { LocationFacts } from './register.repository';
import { RETENTION_KEYS, RETENTION_TYPES, type RetentionSettings } from './retention.policy';

/**
 * The processing-register entry (RGPD art. 30) for the MDM, in French, from the live
 * configuration: the retention periods in force, the push services actually configured. It is a
 * draft for the DPO, who completes what the server cannot know (the DPO's contact, the
 * convention with the DASEN); those places say « à compléter ».
 */
export interface RegisterInput {
  organisationName: string;
  retention: RetentionSettings;
  /** Push services configured: they are recipients outside the authority (processors). */
  push: { apns: boolean; fcm: boolean };
  oidc: boolean;
  /** Location as configured; absent: off everywhere. */
  location?: LocationFacts;
  generatedAt: Date;
}

type Block = { h: string } | { p: string } | { ul: string[] } | { table: { head: string[]; rows: string[][] } };

const days = (n: number) => (n === 0 ? 'aucun délai' : n % 365 === 0 ? `${n / 365} an${n / 365 > 1 ? 's' : ''} (${n} jours)` : `${n} jours`);

function retentionRows(r: RetentionSettings): string[][] {
  const how: Record<keyof RetentionSettings, string> = {
    positionsDays: `${days(r.positionsDays)} après réception`,
    lostModePositionsDaysAfterFound: `pendant le mode perdu, puis ${days(r.lostModePositionsDaysAfterFound)} après la fin du mode perdu`,
    commandsDays: `${days(r.commandsDays)} après la fin de la commande (supprimée avec son résultat)`,
    deviceEventsDays: `${days(r.deviceEventsDays)} après réception`,
    auditEventsDays: `${days(r.auditEventsDays)}, puis archive signée hors de la base et suppression`,
    retiredDevicesDays: `${days(r.retiredDevicesDays)} après l'effacement ou le retrait de la tablette`,
  };
  return RETENTION_KEYS.map((k) => [RETENTION_TYPES[k].label, how[k]]);
}

/** What the register says of location, from the policies in force. */
function locationLines(l: LocationFacts | undefined) {
  const hours = l?.schoolHoursSchools ?? 0;
  const demand = l?.onDemandSchools ?? 0;
  const purpose =
    hours > 0
      ? `Localisation d'une tablette perdue ou volée : à la demande d'un technicien ou en mode perdu dans ${demand + hours} école(s), et relevé périodique pendant le temps scolaire seulement (jamais hors des horaires ni pendant les vacances) dans ${hours} école(s) ; désactivée ailleurs`
      : demand > 0
        ? `Localisation d'une tablette perdue ou volée, uniquement à la demande d'un technicien ou en mode perdu, dans ${demand} école(s) ; désactivée ailleurs`
        : "Localisation d'une tablette perdue ou volée : désactivée dans toutes les écoles (elle peut l'être à la demande ou en mode perdu, école par école)";
  const data =
    hours > 0
      ? "Positions : à la demande, en mode perdu, et pendant le temps scolaire dans les écoles qui l'ont décidé ; chaque consultation est enregistrée au journal d'audit"
      : "Positions : seulement à la demande ou en mode perdu ; chaque consultation est enregistrée au journal d'audit";
  const perimeters = l && l.geofences > 0 ? [`Alertes de sortie du périmètre d'une école pendant le temps scolaire (${l.geofences} périmètre(s)) : l'alerte${l.alertEmails ? ', envoyée aussi par courriel,' : ''} ne contient pas la position`] : [];
  return { purpose, data, perimeters };
}

export function registerBlocks(input: RegisterInput): Block[] {
  const location = locationLines(input.location);
  const recipients = [
    'Agents de la DSI habilités (rôle « technicien »), limités aux communes ou écoles qui leur sont attribuées',
    "Administrateurs de la DSI (rôle « administrateur »)",
    input.location?.directorsReadPositions
      ? "Directeurs et directrices d'école : inventaire de leur école en lecture seule et, sur décision de la collectivité, positions des tablettes de leur école ; sans les informations réseau"
      : "Directeurs et directrices d'école : inventaire de leur école en lecture seule, sans les positions ni les informations réseau",
    "Auditeurs désignés (rôle « auditeur ») : journal d'audit",
  ];
  if (input.push.apns) recipients.push("Apple (service APNs) : sous-traitant, reçoit uniquement un jeton de réveil par iPad, hors UE — à inscrire comme tel");
  if (input.push.fcm) recipients.push('Google (Firebase Cloud Messaging) : sous-traitant, reçoit uniquement un jeton de réveil par tablette Android, hors UE — à inscrire comme tel');
  return [
    { h: 'Gestion de la flotte de tablettes des écoles (MDM Cartable)' },
    { p: `Fiche de registre des activités de traitement (article 30 du RGPD), générée le ${input.generatedAt.toISOString().slice(0, 10)} à partir de la configuration en service. À relire et compléter par le délégué à la protection des données.` },
    { h: 'Responsable de traitement' },
    { ul: [`${input.organisationName} (collectivité qui acquiert et gère les tablettes)`, "Responsabilité conjointe avec la DASEN pour les choix pédagogiques appliqués par le MDM : à compléter (convention)", 'Délégué à la protection des données : à compléter'] },
    { h: 'Finalités' },
    {
      ul: [
        'Inventaire des tablettes des écoles (matériel, système, applications installées)',
        'Configuration et sécurisation des tablettes (Wi-Fi, filtrage, restrictions, verrouillage, effacement à distance)',
        'Déploiement et mise à jour des applications',
        location.purpose,
        ...location.perimeters,
        "Traçabilité des actions des agents et des consultations sensibles (journal d'audit)",
      ],
    },
    { h: 'Base légale' },
    { p: "Mission d'intérêt public (article 6.1.e du RGPD) : fourniture et maintenance des équipements numériques des écoles (articles L.212-5 et L.213-2 du code de l'éducation)." },
    { h: 'Personnes concernées' },
    { ul: ['Élèves utilisant les tablettes partagées (aucune donnée nominative de l\'élève n\'est requise : noms de tablettes non nominatifs)', 'Enseignants et directeurs', 'Agents de la DSI'] },
    { h: 'Catégories de données' },
    {
      ul: [
        'Identifiants techniques de la tablette : numéro de série, IMEI, UDID, nom de la tablette, école, chariot',
        'Inventaire : modèle, version du système, applications installées, batterie, stockage, dernière connexion',
        'Informations réseau (adresse, Wi-Fi vu) : visibles des seuls techniciens',
        'Commandes envoyées aux tablettes et leurs résultats ; événements signalés par les tablettes',
        location.data,
        "Journal d'audit : identifiant, adresse électronique et adresse IP des agents, action, date",
      ],
    },
    { h: 'Destinataires' },
    { ul: recipients },
    { h: 'Transferts hors de l\'Union européenne' },
    { p: input.push.apns || input.push.fcm ? 'Les services de notification ci-dessus ne reçoivent aucune donnée sur les élèves : seulement un jeton de réveil. Les serveurs Cartable sont auto-hébergés par la collectivité.' : 'Aucun : les serveurs Cartable sont auto-hébergés par la collectivité et aucun service de notification externe n\'est configuré.' },
    { h: 'Durées de conservation (configuration en service)' },
    { table: { head: ['Données', 'Durée'], rows: retentionRows(input.retention) } },
    { p: "La purge est quotidienne et laisse une trace au journal d'audit avec le nombre d'éléments supprimés par type." },
    { h: 'Mesures de sécurité' },
    {
      ul: [
        'Chiffrement des échanges (TLS) ; chaque tablette est identifiée par un certificat émis par une autorité interne dont la clé est chiffrée au repos',
        "Habilitations par rôle et par périmètre (commune, école) ; les directeurs n'ont qu'un accès en lecture",
        input.oidc ? "Connexion des agents par le fournisseur d'identité de la collectivité (OpenID Connect)" : 'Mots de passe hachés (scrypt), verrouillage après échecs répétés, limitation du débit des connexions',
        "Journal d'audit en ajout seul, chaîné par un code d'authentification à clé, avec des points de contrôle signés ; les consultations de positions et les exports y sont enregistrés",
        'Localisation désactivée par défaut ; positions purgées automatiquement',
        'Droits des personnes : export de tout ce qui concerne une tablette (JSON et CSV), effacement des données personnelles des tablettes retirées',
      ],
    },
  ];
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function registerMarkdown(input: RegisterInput): string {
  const out: string[] = [];
  let first = true;
  for (const b of registerBlocks(input)) {
    if ('h' in b) out.push(`${first ? '#' : '##'} ${b.h}`, '');
    else if ('p' in b) out.push(b.p, '');
    else if ('ul' in b) out.push(...b.ul.map((i) => `- ${i}`), '');
    else out.push(`| ${b.table.head.join(' | ')} |`, `| ${b.table.head.map(() => '---').join(' | ')} |`, ...b.table.rows.map((r) => `| ${r.join(' | ')} |`), '');
    if ('h' in b) first = false;
  }
  return out.join('\n');
}

/** A standalone page that prints well (A4, no external resource), for a PDF through the browser's print. */
export function registerHtml(input: RegisterInput): string {
  const body: string[] = [];
  let first = true;
  for (const b of registerBlocks(input)) {
    if ('h' in b) {
      body.push(first ? `<h1>${escapeHtml(b.h)}</h1>` : `<h2>${escapeHtml(b.h)}</h2>`);
      first = false;
    } else if ('p' in b) body.push(`<p>${escapeHtml(b.p)}</p>`);
    else if ('ul' in b) body.push(`<ul>${b.ul.map((i) => `<li>${escapeHtml(i)}</li>`).join('')}</ul>`);
    else {
      const head = b.table.head.map((h) => `<th scope="col">${escapeHtml(h)}</th>`).join('');
      const rows = b.table.rows.map((r) => `<tr><th scope="row">${escapeHtml(r[0]!)}</th>${r.slice(1).map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('');
      body.push(`<table><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table>`);
    }
  }
  const css = '@page{size:A4;margin:2cm}body{font:11pt/1.45 system-ui,sans-serif;color:#111;max-width:46em;margin:auto}h1{font-size:17pt}h2{font-size:13pt;margin-top:1.4em;break-after:avoid}table{border-collapse:collapse;width:100%}th,td{border:1px solid #555;padding:.3em .5em;text-align:left;vertical-align:top}tr{break-inside:avoid}';
  return `<!doctype html>\n<html lang="fr"><head><meta charset="utf-8"><title>Registre — ${escapeHtml(input.organisationName)}</title><style>${css}</style></head><body>${body.join('\n')}</body></html>\n`;
}
