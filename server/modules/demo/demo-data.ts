/**
 * The demonstration authority: a fictional communauté d'agglomération with 11 communes, the
 * commune of Alpha and its 7 pilot schools, and a few schools elsewhere. Codes are fictional.
 */
export const DEMO_ORGANISATION = { slug: 'admirville', name: "Communauté d'agglomération d'Admirville" };

export const DEMO_COMMUNES: { code: string; name: string }[] = [
  { code: '99001', name: 'Alpha' },
  { code: '99002', name: 'Beauval' },
  { code: '99003', name: 'Chantemerle' },
  { code: '99004', name: 'Douvaine-les-Prés' },
  { code: '99005', name: 'Estrelles' },
  { code: '99006', name: 'Fonteneuve' },
  { code: '99007', name: 'Grandpré' },
  { code: '99008', name: 'Hautecombe' },
  { code: '99009', name: 'Isarn' },
  { code: '99010', name: 'Jonquières-sur-Admir' },
  { code: '99011', name: 'Kervallon' },
];

type Kind = 'maternelle' | 'elementaire' | 'primaire';
export interface DemoSchool {
  code: string;
  name: string;
  kind: Kind;
  commune: string;
  pilot: boolean;
  director: { name: string; email: string };
}

const school = (code: string, name: string, kind: Kind, commune: string, pilot: boolean, director: string): DemoSchool => ({
  code,
  name,
  kind,
  commune,
  pilot,
  director: { name: director, email: `direction.${code.toLowerCase()}@ecoles.admirville.fr` },
});

export const DEMO_SCHOOLS: DemoSchool[] = [
  school('0999001A', 'École maternelle Les Tilleuls', 'maternelle', '99001', true, 'Claire Martin'),
  school('0999002B', 'École élémentaire Jean Jaurès', 'elementaire', '99001', true, 'Karim Benali'),
  school('0999003C', 'École primaire Marie Curie', 'primaire', '99001', true, 'Sophie Lefèvre'),
  school('0999004D', 'École maternelle Le Petit Prince', 'maternelle', '99001', true, 'Nathalie Roux'),
  school('0999005E', 'École élémentaire Jules Ferry', 'elementaire', '99001', true, 'Thomas Garnier'),
  school('0999006F', 'École primaire Louise Michel', 'primaire', '99001', true, 'Amina Diallo'),
  school('0999007G', 'École élémentaire Victor Hugo', 'elementaire', '99001', true, 'Julien Moreau'),
  school('0999008H', 'École primaire du Bourg', 'primaire', '99002', false, 'Isabelle Fournier'),
  school('0999009J', 'École élémentaire Les Platanes', 'elementaire', '99003', false, 'Marc Girard'),
  school('0999010K', 'École maternelle Arc-en-ciel', 'maternelle', '99005', false, 'Élodie Bonnet'),
  school('0999011L', 'École primaire Simone Veil', 'primaire', '99008', false, 'Patrick Lambert'),
];

/** A tablet cart in each pilot school: the usual way tablets circulate between classes. */
export const DEMO_GROUP_NAME = 'Classe mobile 1';
