"""Reference data for the generator: French names, professions in realistic proportions, places, streets.

Proportions follow the published RPPS/ADELI stock roughly (nurses first, then doctors, physiotherapists,
pharmacists). Specialty codes follow the shape of the TRE_R38 list (``SM`` + two digits) but are not all
checked against it (unconfirmed): the generator needs realistic text, not an authoritative code list.
"""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FAMILY_NAMES = (
    *_words(
    "MARTIN BERNARD THOMAS PETIT ROBERT RICHARD DURAND DUBOIS MOREAU LAURENT SIMON MICHEL LEFÈBVRE LEROY ROUX "
    "DAVID BERTRAND MOREL FOURNIER GIRARD BONNET DUPONT LAMBERT FONTAINE ROUSSEAU VINCENT MULLER LEFÈVRE FAURE "
    "ANDRÉ MERCIER BLANC GUÉRIN BOYER GARNIER CHEVALIER FRANÇOIS LEGRAND GAUTHIER GARCIA PERRIN ROBIN CLÉMENT "
    "MORIN NICOLAS HENRY ROUSSEL MATHIEU GAUTIER MASSON MARCHAND DUVAL DENIS DUMONT MARIE LEMAIRE NOËL MEYER "
    "DUFOUR MEUNIER BRUN BLANCHARD GIRAUD JOLY RIVIÈRE LUCAS BRUNET GAILLARD BARBIER ARNAUD MARTINEZ GÉRARD "
    "ROCHE RENARD SCHMITT ROY LEROUX COLIN VIDAL CARON PICARD ROGER FABRE AUBERT LEMOINE RENAUD DUMAS LACROIX "
    "OLIVIER PHILIPPE BOURGEOIS PIERRE BENOÎT REY LECLERC PAYET ROLLAND LECLERCQ GUILLAUME LECOMTE LOPEZ JEAN "
    "DUPUY GUILLOT HUBERT BERGER CARPENTIER SANCHEZ DUPUIS MOULIN LOUIS DESCHAMPS HUET VASSEUR PEREZ BOUCHER "
    "FLEURY ROYER KLEIN JACQUET ADAM PARIS POIRIER MARTY AUBRY GUYOT CARRÉ CHARLES RENAULT CHARPENTIER MÉNARD "
    "MAILLARD BARON BERTIN BAILLY HERVÉ SCHNEIDER FERNANDEZ COLLET LÉGER BOUVIER JULIEN PRÉVOST MILLET PERROT "
    "DANIEL COUSIN GERMAIN BRETON BESSON LANGLOIS RÉMY PELLETIER LÉVÊQUE PERRIER LEBLANC BARRÉ LEBRUN MARCHAL "
    "WEBER MALLET HAMON BOULANGER JACOB MONNIER MICHAUD RODRIGUEZ GUICHARD GILLET ÉTIENNE GRONDIN POULAIN "
    "TESSIER CHAUVIN BOUCHET GAY LEMAÎTRE BÉNARD MARÉCHAL HUMBERT REYNAUD ANTOINE HOARAU PERRET BARTHÉLEMY "
    "CORDIER PICHON LEJEUNE GILBERT LAMY DELAUNAY PASQUIER CARLIER LAPORTE VÉRAN NGUYEN TRAN MÜLLER ÇELIK"
    ),
    "LE GALL", "LE ROUX", "LE GOFF", "LE BIHAN", "DA SILVA", "DOS SANTOS", "D'ALMEIDA", "N'DIAYE", "L'HERMITE",
    "DE LA FONTAINE", "DU BELLAY", "DE SAINT-EXUPÉRY", "D'ARTAGNAN", "MARTIN-DUPONT", "BOUCHARD-MARTIN",
    "LEFEBVRE-DESNOUETTES", "BEN SAÏD", "EL KHOURY", "DE LA TOUR D'AUVERGNE", "LE BRIS-KERGUELEN",
)
NAME_STARTS = _words(
    "Ker Bou Char Mar Ri Ber Lam Gui Dar Fon Mon Val Cha Bre Ros Mau Vil Des Bel Gran Pel Tes Ro Ma Jo Sa Pa "
    "Lu Ga Ta Co Fa Ne Ho Mé Bé Lé Ré Che Cla Gro Tré Plé"
)
NAME_MIDDLES = ("ga", "ri", "ve", "lo", "ni", "ba", "de", "mo", "", "", "", "li")
NAME_ENDS = _words("ud et in and ier ot eau on ès é ard ault ac el y oux ec ic ourg ène ëlle")
PARTICLES = ("", "", "", "", "", "", "", "", "DE ", "DU ", "LE ", "D'", "LA ")

MALE_GIVEN = (
    *_words(
    "Jean Pierre Michel André Philippe Alain Bernard Jacques Éric Nicolas Stéphane Laurent Christophe Olivier "
    "Sébastien Julien Thomas Antoine François Frédéric Mathieu Guillaume Hugo Lucas Théo Loïc Gaël Noël Jérôme "
    "Benoît Cédric Hervé Grégoire Aurélien Timothée Raphaël Mickaël Joël Anaël"
    ),
    "Jean-Pierre", "Jean-Marc", "Jean-François", "Pierre-Yves", "Marc-Antoine", "Jean-Baptiste",
)
FEMALE_GIVEN = (
    *_words(
    "Marie Nathalie Isabelle Sylvie Catherine Sophie Christine Valérie Sandrine Céline Aurélie Émilie Julie "
    "Camille Léa Chloé Manon Inès Zoé Anaïs Maëlle Héloïse Noémie Clémence Hélène Agnès Bérénice Mélanie Gaëlle "
    "Océane Laëtitia Élodie Sarah Léonie Maïwenn"
    ),
    "Marie-Claire", "Anne-Sophie", "Marie-Hélène", "Anne-Laure", "Marie-Noëlle",
)

# (code, label, weight in thousandths, share with an MSSanté mailbox)
PROFESSIONS = (
    ("60", "Infirmier", 400, 0.2),
    ("10", "Médecin", 200, 0.75),
    ("70", "Masseur-Kinésithérapeute", 80, 0.2),
    ("21", "Pharmacien", 70, 0.5),
    ("40", "Chirurgien-Dentiste", 40, 0.35),
    ("98", "Manipulateur ERM", 30, 0.1),
    ("91", "Orthophoniste", 25, 0.15),
    ("28", "Opticien-Lunetier", 25, 0.05),
    ("86", "Technicien de laboratoire médical", 25, 0.1),
    ("50", "Sage-Femme", 20, 0.4),
    ("80", "Pédicure-Podologue", 13, 0.15),
    ("96", "Psychomotricien", 12, 0.1),
    ("94", "Ergothérapeute", 10, 0.1),
    ("31", "Assistant dentaire", 10, 0.02),
    ("95", "Diététicien", 10, 0.1),
    ("92", "Orthoptiste", 5, 0.15),
    ("69", "Infirmier psychiatrique", 5, 0.2),
    ("26", "Audioprothésiste", 4, 0.1),
)
MAILBOX_DOMAINS = {
    "10": "medecin.mssante.fr", "21": "pharmacien.mssante.fr", "40": "chirurgien-dentiste.mssante.fr",
    "50": "sage-femme.mssante.fr", "60": "infirmier.mssante.fr", "70": "masseur-kinesitherapeute.mssante.fr",
    "80": "pedicure-podologue.mssante.fr",
}
DEFAULT_MAILBOX_DOMAIN = "pro.mssante.fr"

# (code, label, weight)
DOCTOR_SPECIALTIES = (
    ("SM54", "Médecine générale", 45), ("SM04", "Cardiologie et maladies vasculaires", 5),
    ("SM15", "Dermatologie et vénéréologie", 3), ("SM02", "Anesthésie-réanimation", 6),
    ("SM20", "Gynécologie-obstétrique", 4), ("SM40", "Pédiatrie", 4), ("SM42", "Psychiatrie", 7),
    ("SM44", "Radio-diagnostic", 5), ("SM38", "Ophtalmologie", 3), ("SM39", "Oto-rhino-laryngologie", 2),
    ("SM24", "Gastro-entérologie et hépatologie", 2), ("SM32", "Neurologie", 2), ("SM41", "Pneumologie", 2),
    ("SM53", "Rhumatologie", 2), ("SM19", "Endocrinologie et métabolisme", 1), ("SM30", "Médecine interne", 3),
    ("SM35", "Néphrologie", 1), ("SM09", "Chirurgie orthopédique et traumatologie", 3),
)
DENTIST_SPECIALTIES = (("SCD01", "Orthopédie dento-faciale", 1), ("", "", 9))

# (name, postal code, INSEE commune code); department from the postal code, Corsica 2A/2B
CITIES = (
    ("Paris", "75015", "75115"), ("Paris", "75011", "75111"), ("Paris", "75018", "75118"),
    ("Paris", "75013", "75113"), ("Paris", "75005", "75105"), ("Marseille", "13008", "13208"),
    ("Marseille", "13005", "13205"), ("Lyon", "69003", "69383"), ("Lyon", "69008", "69388"),
    ("Lyon", "69006", "69386"), ("Toulouse", "31000", "31555"), ("Nice", "06000", "06088"),
    ("Nantes", "44000", "44109"), ("Strasbourg", "67000", "67482"), ("Montpellier", "34000", "34172"),
    ("Bordeaux", "33000", "33063"), ("Lille", "59000", "59350"), ("Rennes", "35000", "35238"),
    ("Reims", "51100", "51454"), ("Saint-Étienne", "42000", "42218"), ("Le Havre", "76600", "76351"),
    ("Toulon", "83000", "83137"), ("Grenoble", "38000", "38185"), ("Dijon", "21000", "21231"),
    ("Angers", "49000", "49007"), ("Nîmes", "30000", "30189"), ("Villeurbanne", "69100", "69266"),
    ("Clermont-Ferrand", "63000", "63113"), ("Aix-en-Provence", "13100", "13001"), ("Brest", "29200", "29019"),
    ("Limoges", "87000", "87085"), ("Tours", "37000", "37261"), ("Amiens", "80000", "80021"),
    ("Perpignan", "66000", "66136"), ("Metz", "57000", "57463"), ("Besançon", "25000", "25056"),
    ("Orléans", "45000", "45234"), ("Rouen", "76000", "76540"), ("Mulhouse", "68100", "68224"),
    ("Caen", "14000", "14118"), ("Nancy", "54000", "54395"), ("Ajaccio", "20000", "2A004"),
    ("Bastia", "20200", "2B033"), ("L'Haÿ-les-Roses", "94240", "94038"), ("Saint-Denis", "93200", "93066"),
    ("Fort-de-France", "97200", "97209"), ("Saint-Pierre", "97410", "97416"), ("Vénissieux", "69200", "69259"),
    ("Châlons-en-Champagne", "51000", "51108"), ("Pointe-à-Pitre", "97110", "97120"),
)
VILLAGE_STARTS = (
    "Saint-Martin", "Sainte-Marie", "Le Mesnil", "La Chapelle", "Villeneuve", "Beaulieu", "Montigny",
    "Fontaine", "Saint-Julien", "Saint-Germain", "Val", "Château", "Notre-Dame", "Saint-Éloi", "Bourg",
)
VILLAGE_ENDS = (
    "-sur-Loire", "-en-Vexin", "-le-Château", "-lès-Bains", "-d'Azergues", "-des-Prés", "", "-sur-Mer",
    "-de-Bretagne", "-l'Église", "-aux-Bois", "-en-Bresse",
)
DEPARTMENTS = (*(f"{n:02d}" for n in range(1, 96) if n != 20), "2A", "2B", "971", "972", "974")

STREET_TYPES = (("R", "Rue"), ("AV", "Avenue"), ("BD", "Boulevard"), ("PL", "Place"), ("CHE", "Chemin"),
                ("IMP", "Impasse"), ("ALL", "Allée"), ("QU", "Quai"))
STREETS = (
    "de la République", "Victor Hugo", "Jean Jaurès", "du Général de Gaulle", "Pasteur", "des Lilas",
    "de l'Église", "Émile Zola", "du Château", "de la Gare", "Saint-Exupéry", "des Écoles", "du Moulin",
    "Gambetta", "Anatole France", "de la Paix", "Marcel Pagnol", "des Tilleuls", "du Maréchal Foch", "Voltaire",
)
HOSPITAL_KINDS = ("Centre hospitalier", "CHU", "Clinique", "Hôpital privé", "EHPAD", "Centre de santé")
SERVICES = ("Cardiologie", "Urgences", "Radiologie", "Secrétariat médical", "Pharmacie", "Laboratoire",
            "Maternité", "Pédiatrie")
