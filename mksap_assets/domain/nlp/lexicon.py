"""A small offline medical lexicon: what counts as a named drug, disease or test in a statement.

scispaCy's small model labels every entity "ENTITY" (REFERENCE_SYSTEM §7.4.10), so types come from rules here:
generic drug names and drug-class suffixes, disease heads and suffixes, tests and procedures, and common
abbreviations with their long forms. Lower-case, singular forms; `find_terms` handles plurals and case.
`medical_word` tells a medical word that no English word list has ("chronotropic") from an invented one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from mksap_assets.domain.nlp.english_words import english_words, is_english_word

TermKind = Literal["drug", "disease", "test", "abbreviation"]

DRUGS = frozenset(
    """
    abacavir abatacept acarbose acetaminophen acetazolamide acyclovir adalimumab adenosine albumin albuterol
    alendronate allopurinol alteplase amantadine amikacin amiloride amiodarone amitriptyline amlodipine amoxicillin
    amphotericin ampicillin anakinra anastrozole apixaban apremilast argatroban aripiprazole aspirin atazanavir
    atenolol atorvastatin atropine azathioprine azithromycin aztreonam baclofen belimumab benazepril benzathine
    betamethasone bevacizumab bicalutamide bisoprolol bivalirudin bleomycin bortezomib bromocriptine budesonide
    bumetanide buprenorphine bupropion buspirone cabergoline calcitonin calcitriol canagliflozin candesartan
    capecitabine captopril carbamazepine carbidopa carboplatin carvedilol caspofungin cefazolin cefepime cefiderocol
    cefotaxime cefoxitin ceftaroline ceftazidime ceftriaxone cefuroxime celecoxib cephalexin certolizumab cetirizine
    chlorambucil chloroquine chlorthalidone cholestyramine cilostazol cimetidine cinacalcet ciprofloxacin cisatracurium
    cisplatin citalopram clarithromycin clindamycin clobetasol clonazepam clonidine clopidogrel clozapine codeine
    colchicine colesevelam cyclophosphamide cyclosporine cytarabine dabigatran dalteparin dantrolene dapagliflozin
    dapsone daptomycin darbepoetin deferoxamine denosumab desmopressin dexamethasone dexmedetomidine diazepam
    diclofenac dicloxacillin digoxin diltiazem diphenhydramine dipyridamole dobutamine docetaxel dofetilide donepezil
    dopamine doxazosin doxorubicin doxycycline dronedarone dulaglutide duloxetine dupilumab edoxaban empagliflozin
    enalapril enoxaparin entecavir eplerenone epinephrine epoetin eptifibatide ertapenem ertugliflozin erythromycin
    erythropoietin escitalopram esmolol esomeprazole estradiol estrogen etanercept ethambutol ethanol ethosuximide
    etomidate exenatide ezetimibe famotidine febuxostat fenofibrate fentanyl ferrous fidaxomicin filgrastim
    finasteride flecainide fluconazole fludrocortisone flumazenil fluoxetine fluticasone fluvoxamine folate
    fondaparinux formoterol fosfomycin furosemide gabapentin ganciclovir gemfibrozil gentamicin glargine glimepiride
    glipizide glucagon glyburide golimumab haloperidol heparin hydralazine hydrochlorothiazide hydrocortisone
    hydromorphone hydroxychloroquine hydroxyurea ibuprofen imatinib imipenem indomethacin infliximab insulin
    ipratropium irbesartan isoniazid isosorbide itraconazole ivabradine ivermectin ketamine ketoconazole ketorolac
    labetalol lacosamide lactulose lamivudine lamotrigine lansoprazole leflunomide letrozole leucovorin leuprolide
    levetiracetam levofloxacin levothyroxine lidocaine linagliptin linezolid liraglutide lisinopril lithium loperamide
    loratadine lorazepam losartan lovastatin magnesium mannitol meloxicam memantine meropenem mesalamine metformin
    methadone methimazole methotrexate methylprednisolone metoclopramide metolazone metoprolol metronidazole
    micafungin midazolam midodrine milrinone minocycline mirtazapine misoprostol montelukast morphine moxifloxacin
    mycophenolate nafcillin naloxone naltrexone naproxen natalizumab nebivolol neostigmine niacin nicardipine
    nifedipine nitrofurantoin nitroglycerin nitroprusside nivolumab norepinephrine norfloxacin nortriptyline nystatin
    octreotide ofloxacin olanzapine omalizumab omeprazole ondansetron oseltamivir oxacillin oxybutynin oxycodone
    oxytocin paclitaxel pamidronate pantoprazole paroxetine pembrolizumab pemetrexed penicillin pentamidine
    phenobarbital phentolamine phenylephrine phenytoin pioglitazone piperacillin prasugrel pravastatin praziquantel
    prednisolone prednisone pregabalin primaquine probenecid procainamide prochlorperazine propafenone propofol
    propranolol propylthiouracil protamine pyrazinamide pyridostigmine quetiapine quinapril quinidine rabeprazole
    raloxifene ramipril ranolazine rasburicase remdesivir reslizumab rifabutin rifampin rifaximin risedronate
    risperidone ritonavir rituximab rivaroxaban rocuronium romosozumab rosuvastatin sacubitril salmeterol
    secukinumab semaglutide sertraline sevelamer sildenafil simvastatin sirolimus sitagliptin sotalol
    spironolactone streptokinase succinylcholine sucralfate sulfasalazine sumatriptan tacrolimus tadalafil
    tamoxifen tamsulosin tenecteplase tenofovir terbinafine teriparatide terlipressin testosterone tetracycline
    theophylline thiamine ticagrelor tigecycline timolol tiotropium tirzepatide tizanidine tobramycin tocilizumab
    tofacitinib tolvaptan topiramate torsemide tramadol tranexamic trastuzumab trazodone triamcinolone trimethoprim
    ustekinumab valacyclovir valganciclovir valproate valsartan vancomycin varenicline vasopressin vedolizumab
    venlafaxine verapamil voriconazole warfarin zoledronic zolpidem levothyroxine liothyronine iodine
    sulfamethoxazole clavulanate tazobactam sulbactam avibactam vaborbactam relebactam
    """.split()
)

# Single words that name a disease or condition on their own.
DISEASE_WORDS = frozenset(
    """
    acidosis alkalosis anemia aneurysm angina appendicitis arrhythmia arthritis ascites asthma atelectasis
    bacteremia bronchiectasis bronchiolitis bronchitis bursitis cancer candidiasis carcinoma cardiomyopathy cellulitis
    cholangitis cholecystitis choledocholithiasis cirrhosis colitis coma delirium dementia depression dermatitis
    diabetes diverticulitis dysglycemia eclampsia eczema edema embolism emphysema encephalitis encephalopathy
    endocarditis epilepsy erysipelas fibrillation fibrosis fracture gangrene gastritis gastroenteritis glaucoma
    glomerulonephritis goiter gout hematoma hemochromatosis hemophilia hemorrhage hepatitis hernia herniation
    hypercalcemia hypercapnia hyperglycemia hyperkalemia hypernatremia hyperparathyroidism hypertension
    hyperthyroidism hypocalcemia hypoglycemia hypokalemia hypomagnesemia hyponatremia hypophosphatemia hypotension
    hypothyroidism hypoxemia hypoxia infarction influenza ischemia ketoacidosis leukemia lupus lymphoma malaria
    malnutrition melanoma meningitis migraine myasthenia myeloma myocarditis myopathy nephritis nephrolithiasis
    nephropathy neuropathy neutropenia obesity osteomyelitis osteoporosis osteoarthritis pancreatitis pericarditis
    peritonitis pharyngitis pheochromocytoma pneumonia pneumonitis pneumothorax polycythemia preeclampsia psoriasis
    pyelonephritis rhabdomyolysis sarcoidosis schizophrenia sepsis shock sinusitis stenosis stroke syncope syphilis
    tachycardia bradycardia thrombocytopenia thrombocytosis thrombosis thyroiditis tuberculosis ulcer uremia
    urticaria vasculitis vitiligo anaphylaxis angioedema hypovolemia hypervolemia hyperkalaemia aldosteronism
    hyperaldosteronism incidentaloma keratosis keratoses tophus nodule bursitis dyssynchrony acidemia alkalemia
    azotemia hematuria proteinuria albuminuria hemoptysis hematemesis melena dysphagia jaundice pruritus
    """.split()
)

# Head words that make the phrase before them a disease ("heart failure", "Wilson disease").
DISEASE_HEADS = frozenset(
    """disease syndrome failure injury infection insufficiency deficiency disorder cancer carcinoma
    fibrillation flutter block hemorrhage effusion obstruction stenosis regurgitation""".split()
)

TESTS = frozenset(
    """
    angiography arteriography biopsy bronchoscopy colonoscopy cystoscopy echocardiography echocardiogram
    electrocardiography electrocardiogram electroencephalography electromyography endoscopy laparoscopy
    mammography paracentesis radiography sigmoidoscopy spirometry thoracentesis thoracoscopy thoracostomy
    ultrasonography ultrasound urinalysis venography lumbar culture cultures assay immunoassay scintigraphy
    polysomnography colposcopy arthrocentesis cholangiopancreatography cholecystectomy appendectomy laparotomy
    dialysis hemodialysis pleurodesis cardioversion catheterization transfusion intubation tomography
    """.split()
)

MULTIWORD_TERMS: dict[str, TermKind] = {
    phrase: kind
    for kind, phrases in {
        "disease": [
            "heart failure", "atrial fibrillation", "atrial flutter", "multiple myeloma", "multiple sclerosis",
            "myocardial infarction", "pulmonary embolism", "deep venous thrombosis", "deep vein thrombosis",
            "chronic kidney disease", "acute kidney injury", "kidney failure", "liver failure",
            "diabetic ketoacidosis", "septic arthritis", "rheumatoid arthritis", "giant cell arteritis",
            "systemic lupus erythematosus", "crohn disease", "ulcerative colitis", "celiac disease",
            "addison disease", "cushing syndrome", "graves disease", "wilson disease", "lyme disease",
            "sickle cell disease", "hepatorenal syndrome", "serotonin syndrome", "nephrotic syndrome",
            "guillain-barre syndrome", "sjogren syndrome", "ankylosing spondylitis", "polymyalgia rheumatica",
            "temporal arteritis", "aortic stenosis", "mitral stenosis", "mitral regurgitation",
            "aortic regurgitation", "aortic dissection", "aortic aneurysm", "peptic ulcer", "osmotic demyelination",
            "acute respiratory distress syndrome", "community-acquired pneumonia", "urinary tract infection",
            "venous thromboembolism", "coronary artery disease", "peripheral artery disease",
            "chronic obstructive pulmonary disease", "obstructive sleep apnea", "sleep apnea",
            "interstitial lung disease", "pulmonary hypertension", "portal hypertension", "febrile neutropenia",
            "heparin-induced thrombocytopenia", "thrombotic thrombocytopenic purpura", "iron deficiency",
            "vitamin b12 deficiency", "basal cell carcinoma", "squamous cell carcinoma", "prostate cancer",
            "breast cancer", "lung cancer", "colorectal cancer", "colon cancer", "pancreatic cancer",
            "tendon rupture", "qt prolongation", "venous limb gangrene", "toxic shock syndrome",
        ],
        "test": [
            "ct", "mri", "x-ray", "pet scan", "chest radiograph", "chest radiography", "lumbar puncture",
            "blood cultures", "gram stain", "serotonin release assay", "stress test", "exercise stress test",
            "d-dimer", "troponin", "procalcitonin", "ferritin", "hemoglobin a1c", "liver biopsy",
            "bone marrow biopsy", "upper endoscopy", "duplex ultrasonography", "adrenal vein sampling",
            "oral sodium loading", "tuberculin skin test", "interferon-gamma release assay",
        ],
    }.items()
    for phrase in phrases
}

# Two-word compounds that are no named term although their first word is one ("stroke volume" is not a stroke):
# the compound wins over its single words, in find_terms and in grounding's tokens.
COMPOUND_WORDS: dict[str, tuple[str, ...]] = {
    "stroke": ("volume", "volumes", "work", "index"),
    "shock": ("index", "wave", "waves"),
}

DRUG_SUFFIXES = (
    "mab", "nib", "pril", "sartan", "olol", "alol", "statin", "mycin", "micin", "cillin", "cycline", "floxacin",
    "conazole", "prazole", "parin", "xaban", "gatran", "gliflozin", "gliptin", "glutide", "dipine", "thiazide",
    "semide", "lukast", "sone", "olone", "vir", "platin", "taxel", "tinib", "zumab", "ximab", "triptan", "azepam",
    "zolam", "setron", "tidine", "dronate", "pressin", "caine", "curium", "curonium", "profen", "coxib", "penem",
    "bactam", "oxacin", "azole", "tropium", "terol", "sonide", "lutamide", "relin", "trel", "barbital", "ipine",
    "afil", "osin", "tadine", "zosin", "glinide", "glitazone", "parinux", "kinase", "plase", "cept",
    # more stems of international nonproprietary names: an invented name built on one of them reads as a drug
    "amide", "azine", "apine", "azepine", "oxetine", "idone", "odone", "adone", "peridol", "triptyline", "ipramine",
    "orphine", "adol", "oxin", "fungin", "trexate", "trexed", "citabine", "rubicin", "mustine", "quine", "formin", "vaptan", "pitant",
    "gepant", "fenac", "steride", "fibrate", "flurane", "tocin", "relix", "ciclib", "parib", "lisib", "zomib",
    "degib", "poetin", "grastim", "kinra", "azoline",
)
DISEASE_SUFFIXES = (
    "itis", "itides", "osis", "oses", "emia", "aemia", "pathy", "pathies", "plasia", "trophy", "oma", "omas",
    "omata", "algia", "uria", "penia", "cytosis", "megaly", "ectasia", "lithiasis", "rrhea", "rrhoea", "plegia",
    "paresis", "spasm", "cardia", "pnea", "ptysis", "phagia", "ectomy",
)
TEST_SUFFIXES = ("scopy", "graphy", "gram", "centesis", "stomy", "plasty", "metry", "ectomy", "otomy")

# Frequent abbreviations in internal medicine and their long forms (lower case; several meanings allowed).
ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "ace": ("angiotensin-converting enzyme",), "acs": ("acute coronary syndrome",),
    "af": ("atrial fibrillation",), "afib": ("atrial fibrillation",), "aki": ("acute kidney injury",),
    "alt": ("alanine aminotransferase",), "ast": ("aspartate aminotransferase",),
    "anc": ("absolute neutrophil count",), "ards": ("acute respiratory distress syndrome",),
    "arb": ("angiotensin receptor blocker", "angiotensin ii receptor blocker"),
    "bmi": ("body mass index",), "bnp": ("b-type natriuretic peptide", "brain natriuretic peptide"),
    "bp": ("blood pressure",), "bun": ("blood urea nitrogen",), "cad": ("coronary artery disease",),
    "cap": ("community-acquired pneumonia",), "cbc": ("complete blood count",),
    "ckd": ("chronic kidney disease",), "copd": ("chronic obstructive pulmonary disease",),
    "crp": ("c-reactive protein",), "csf": ("cerebrospinal fluid",), "ct": ("computed tomography",),
    "cxr": ("chest radiograph", "chest radiography"), "dka": ("diabetic ketoacidosis",),
    "doac": ("direct oral anticoagulant",), "dvt": ("deep venous thrombosis", "deep vein thrombosis"),
    "ecg": ("electrocardiogram", "electrocardiography"), "ekg": ("electrocardiogram",),
    "egfr": ("estimated glomerular filtration rate",), "gfr": ("glomerular filtration rate",),
    "esr": ("erythrocyte sedimentation rate",), "gerd": ("gastroesophageal reflux disease",),
    "gi": ("gastrointestinal",), "hba1c": ("hemoglobin a1c",), "hf": ("heart failure",),
    "hfref": ("heart failure with reduced ejection fraction",), "hit": ("heparin-induced thrombocytopenia",),
    "hiv": ("human immunodeficiency virus",), "htn": ("hypertension",), "icu": ("intensive care unit",),
    "inr": ("international normalized ratio",), "iv": ("intravenous", "intravenously"),
    "ldl": ("low-density lipoprotein",), "hdl": ("high-density lipoprotein",),
    "lvef": ("left ventricular ejection fraction",), "mi": ("myocardial infarction",),
    "mri": ("magnetic resonance imaging",), "mrsa": ("methicillin-resistant staphylococcus aureus",),
    "nsaid": ("nonsteroidal anti-inflammatory drug",), "pe": ("pulmonary embolism",),
    "pci": ("percutaneous coronary intervention",), "ppi": ("proton pump inhibitor",),
    "pth": ("parathyroid hormone",), "rbc": ("red blood cell",), "sbp": ("spontaneous bacterial peritonitis",
                                                                           "systolic blood pressure"),
    "sglt2": ("sodium-glucose cotransporter 2",), "siadh": ("syndrome of inappropriate antidiuretic hormone",),
    "tb": ("tuberculosis",), "tia": ("transient ischemic attack",), "tsh": ("thyroid-stimulating hormone",),
    "uti": ("urinary tract infection",), "vte": ("venous thromboembolism",), "wbc": ("white blood cell",),
    "ercp": ("endoscopic retrograde cholangiopancreatography",), "osa": ("obstructive sleep apnea",),
    "pf4": ("platelet factor 4",), "aptt": ("activated partial thromboplastin time",),
    "ptt": ("partial thromboplastin time",), "crcl": ("creatinine clearance",), "ldh": ("lactate dehydrogenase",),
    "tpa": ("tissue plasminogen activator",), "vats": ("video-assisted thoracoscopic surgery",),
    "ra": ("rheumatoid arthritis",), "sle": ("systemic lupus erythematosus",), "ms": ("multiple sclerosis",),
    "ibd": ("inflammatory bowel disease",), "ibs": ("irritable bowel syndrome",), "uc": ("ulcerative colitis",),
    "lr": ("likelihood ratio",), "ppv": ("positive predictive value",), "npv": ("negative predictive value",),
    "masc": ("multinational association for supportive care in cancer",),
    "ttp": ("thrombotic thrombocytopenic purpura",), "dic": ("disseminated intravascular coagulation",),
    "ards-net": ("ards network",), "peep": ("positive end-expiratory pressure",),
    "cpap": ("continuous positive airway pressure",), "bipap": ("bilevel positive airway pressure",),
    "frc": ("functional residual capacity",), "ffp": ("fresh frozen plasma",), "ivig": ("intravenous immune globulin",),
    "hla": ("human leukocyte antigen",), "igg": ("immunoglobulin g",), "ige": ("immunoglobulin e",),
    "tnf": ("tumor necrosis factor",), "ana": ("antinuclear antibody",),
}

_WORD_RE = re.compile(r"[A-Za-zÀ-ɏα-ω0-9](?:[A-Za-zÀ-ɏα-ω0-9₀-₉'+*]|[-‐‑/](?=[A-Za-zα-ω0-9]))*")
_ABBREV_RE = re.compile(r"^(?=(?:[^A-Z]*[A-Z]){2})[A-Za-z][A-Za-z0-9+-]{1,9}$")
_ROMAN_RE = re.compile(r"^(?:I{1,3}|IV|VI{0,3}|IX|X{1,3})$")
_COMMON_CAPS = frozenset({"US", "OK", "AM", "PM", "UK", "EU", "USA", "II", "III"})


@dataclass(frozen=True)
class Term:
    text: str
    kind: TermKind
    start: int
    end: int


@lru_cache(maxsize=65536)
def singular(word: str) -> str:
    """'keratoses' -> 'keratosis', 'ECGs' -> 'ecg' (lower case)."""
    return _singular(word)


@lru_cache(maxsize=65536)
def _singular(word: str) -> str:
    w = word.lower()
    for plural, single in (("ies", "y"), ("oses", "osis"), ("ases", "asis"), ("itides", "itis"), ("omata", "oma")):
        if w.endswith(plural) and len(w) > len(plural) + 2:
            return w[: -len(plural)] + single
    if w.endswith("s") and not w.endswith(("ss", "us", "is", "os")) and len(w) > 4:
        return w[:-1]
    return w


@lru_cache(maxsize=65536)
def word_kind(word: str) -> TermKind | None:
    """The kind of one word by lexicon or suffix; None for ordinary words."""
    w = _singular(word)
    bare = w.strip("-")
    if len(bare) < 4:
        return None
    if bare in DRUGS or word.lower() in DRUGS:
        return "drug"
    if bare in DISEASE_WORDS or word.lower() in DISEASE_WORDS:
        return "disease"
    if bare in TESTS or word.lower() in TESTS:
        return "test"
    last = bare.rsplit("-", 1)[-1]
    original_last = word.lower().rsplit("-", 1)[-1]
    if original_last.endswith(_NOT_DISEASE_ENDINGS + _NOT_DRUG_ENDINGS + _NOT_TEST_ENDINGS):
        return None
    if len(last) >= 6:
        if last.endswith(DRUG_SUFFIXES) and not last.endswith(_NOT_DRUG_ENDINGS):
            return "drug"
        if last.endswith(DISEASE_SUFFIXES) and not last.endswith(_NOT_DISEASE_ENDINGS):
            return "disease"
        if last.endswith(TEST_SUFFIXES) and not last.endswith(_NOT_TEST_ENDINGS):
            return "test"
    return None


# Ordinary words that happen to end like a drug, disease or test.
_NOT_DRUG_ENDINGS = (
    "reason", "person", "response", "season", "comparison", "poison", "prison", "sone", "cept", "concept",
    "except", "accept", "intercept", "kinase", "tidine", "lesion", "osin", "magazine", "toxin", "lactone",
    "precipitant",
)
_NOT_DISEASE_ENDINGS = (
    "diagnosis", "prognosis", "hypnosis", "emphasis", "basis", "synthesis", "analysis", "thesis", "genesis",
    "stoma", "diploma", "aroma", "glaucomatous", "cardia", "ectomy", "pathway", "ptysis", "poses", "doses",
    "loses", "closes", "ooses", "noses", "hoses", "roses", "doses", "coma", "soma", "chroma",
)
_NOT_TEST_ENDINGS = ("program", "diagram", "telegram", "kilogram", "milligram", "microgram", "nanogram", "gram")


@lru_cache(maxsize=65536)
def is_abbreviation(token: str) -> bool:
    bare = token[:-1] if token.endswith("s") and token[:-1].isupper() else token
    return bool(_ABBREV_RE.match(bare)) and not _ROMAN_RE.match(bare) and bare not in _COMMON_CAPS


_MULTIWORD_LAST = frozenset(phrase.rsplit(" ", 1)[-1] for phrase in MULTIWORD_TERMS if " " in phrase)


def find_terms(text: str) -> list[Term]:
    """Named drugs, diseases, tests and abbreviations in the text, longest first, non-overlapping."""
    words = [(m.group(0), m.start(), m.end()) for m in _WORD_RE.finditer(text)]
    lowered = [w.lower() for w, _, _ in words]
    singular = [_singular(w) for w in lowered]
    taken = [False] * len(words)
    terms: list[Term] = []
    for last in range(len(words)):
        if lowered[last] not in _MULTIWORD_LAST and singular[last] not in _MULTIWORD_LAST:
            continue
        for size in (4, 3, 2):
            first = last - size + 1
            if first < 0 or any(taken[first:last + 1]):
                continue
            head = " ".join(lowered[first:last])
            kind = MULTIWORD_TERMS.get(f"{head} {lowered[last]}") or MULTIWORD_TERMS.get(f"{head} {singular[last]}")
            if kind:
                start, end = words[first][1], words[last][2]
                terms.append(Term(text[start:end], kind, start, end))
                for k in range(first, last + 1):
                    taken[k] = True
                break
    for index in range(len(words) - 1):
        if lowered[index] in COMPOUND_WORDS and lowered[index + 1] in COMPOUND_WORDS[lowered[index]]:
            taken[index] = taken[index + 1] = True
    for index, (word, start, end) in enumerate(words):
        if taken[index]:
            continue
        lw = lowered[index]
        if lw in MULTIWORD_TERMS:  # single-token entries such as "CT", "troponin"
            terms.append(Term(word, MULTIWORD_TERMS[lw], start, end))
            continue
        if is_abbreviation(word):
            terms.append(Term(word, "abbreviation", start, end))
            continue
        kind = word_kind(word)
        if kind:
            terms.append(Term(word, kind, start, end))
        elif "-" in word:  # a drug named inside a compound: "ciprofloxacin-dexamethasone", "X-induced"
            offset = start
            for part in word.split("-"):
                if len(part) >= 6 and word_kind(part) == "drug":
                    terms.append(Term(part, "drug", offset, offset + len(part)))
                offset += len(part) + 1
    terms.sort(key=lambda t: t.start)
    return terms


def long_forms(abbreviation: str) -> tuple[str, ...]:
    key = abbreviation.lower()
    if key not in ABBREVIATIONS and key.endswith("s"):
        key = key[:-1]
    return ABBREVIATIONS.get(key, ())


# -- medical words built from known roots ---------------------------------------------------------------------------
# A medical word that no general English dictionary lists ("hyperosmolar", "chronotropic", "bronchodilators") is not an
# invented one when it is built from medical word roots: combining forms, suffixes, English words and lexicon terms,
# with at least one medical root. Grounding uses this before it calls a word of a statement invented.

# Combining forms (a connecting "o" or "i" after them is optional: "adren-ergic", "nephro-toxicity").
MEDICAL_FORMS = frozenset(
    """
    acro adeno adipo adreno albumino algesio amino amylo andro angio ankylo arterio arthro atelecto athero atelo
    atrio audio bacterio bilio blasto blepharo brachio brady bronchio broncho bursa calci carcino cardio carpo
    cephalo cerebro cervico chemo cholangio chole cholecysto choledocho chondro chrono cilio colo colono colpo
    cortico costo cranio cryo cysto cyto dacryo dactylo dermato dermo diaphragmato dorso duodeno dys echo electro
    embolo encephalo endo entero eosino erythro esophago fascio femoro fibrino fibro gastro gingivo glio glomerulo
    glosso gluco glyco granulo gyneco haemo haemato hemato hemo hepato hepatico herpeto histo hydro hyper hypo
    hystero ileo ilio immuno intestino irido ischio jejuno kerato keto kineto lacto laparo laryngo leuco leuko lipo
    litho lympho mammo masto mediastino megalo melano meningo meno mesentero metabolo myco myelo myo myxo naso natri
    necro nephro neuro neutro noci normo nucleo oculo odonto oligo onco onycho oophoro ophthalmo orchio oro ortho
    osmo osseo osteo oto ovario pancreatico pancreato parenchymo patho pelvio pericardio perineo peritoneo phago
    pharmaco pharyngo phlebo phreno phyto plasmo pleuro pneumo pneumono podo polio procto prostato proteo psycho
    pulmo pulmono pyelo pyloro pyo radio radiculo recto reno reticulo retino rhabdo rhino sacro salpingo sarco
    sclero sebo sero sialo sidero sigmoido sino somato spleno spondylo staphylo steato stomato strepto sympatho
    synovio tachy tendino teno thermo thoraco thrombo thymo thyro tonsillo toxico toxo tracheo tricho tropho tympano
    uretero urethro uro utero vagino valvulo vasculo vaso veno ventriculo vertebro vesico viro xantho xero
    """.split()
)
# Prefixes that join words but say nothing medical on their own ("tri" + "solen" is no medical word).
GENERIC_FORMS = frozenset(
    """a an ab ad ante anti auto bi bio circum co con contra counter de di dia dis ecto em en epi eu ex exo extra hemi
    in im infra inter intra iso macro mega meta micro mid mis mono multi neo non pan para per peri poly post pre
    pro pseudo re retro semi sub super supra sym syn trans tri ultra un uni""".split()
)
MEDICAL_ENDINGS = frozenset(
    """aemia algia amine amines ase ases asis blast cele centesis cidal cide clasis cyte cytes cytic cytosis derma
    desis dynia ectasia ectasis ectomy edema emesis emia emias emic ergic esthesia genesis genic globin globulin
    gram graph graphy iasis iatric iatrics iatry itis kine kines kinesis kinetic lepsy leptic lith lithiasis
    logy logic logical logist lysis lytic malacia megaly metry oid oids oma omas ostomy otomy opathy opia osis
    otic pathy pathic penia penic pepsia pexy phagia phasia phil philia philic phobia phonia physis plasia plasm
    plasmic plastic plasty plegia plegic pnea poiesis poietic ptosis ptysis rrhage rrhagia rrhaphy rrhea rrhexis
    sclerosis scopy scopic sepsis spasm stasis static stenosis stomy taxis thermia tomy toxic toxicity toxin
    trophic trophy tropic tropin uria uric""".split()
)
GENERIC_ENDINGS = frozenset(
    """al ar ary ia ias ic ics ical ically ism ist ity ive ous atous atic ial ian ine ate ation able ible ization ize
    ment form iform fication""".split()
)
# Endings by which a stem is a word ("mediastin" of "mediastinum", "arrhythm" of "arrhythmia").
_STEM_ENDINGS = ("um", "us", "ia", "a", "is", "e", "y", "on", "ium", "ism", "in", "ine")
_CONNECTORS = ("o", "i")
MIN_MEDICAL_WORD = 6
MIN_DERIVED_BASE = 5  # "incision" + "al": a word of 5 letters or more and an ending is a derivation


def _lexicon_word(piece: str) -> bool:
    return piece in DRUGS or piece in DISEASE_WORDS or piece in TESTS


@lru_cache(maxsize=65536)
def _piece(piece: str) -> tuple[str, bool] | None:
    """What a piece of a word is, and whether it is medical: a combining form ("nephro"), a joining prefix ("non"),
    a word (English, 4 letters or more, or a lexicon drug, disease or test) or the stem of one ("mediastin" of
    "mediastinum", "arrhythm" of "arrhythmia"). None when it is none of these."""
    if piece in MEDICAL_FORMS or (piece + "o") in MEDICAL_FORMS:
        return "form", True
    if piece in GENERIC_FORMS:
        return "prefix", False
    if len(piece) < 4:
        return None
    if _lexicon_word(piece):
        return "word", True
    if piece in english_words():
        return "word", False
    stems = [piece + ending for ending in _STEM_ENDINGS]
    if any(_lexicon_word(stem) for stem in stems):
        return "word", True
    if any(stem in english_words() for stem in stems):
        return "word", False
    return None


@lru_cache(maxsize=65536)
def _parses(rest: str, medical: bool = False, derived: bool = False, prefixes_only: bool = True) -> bool:
    """Can `rest` be read as pieces and a last piece so that the word has a medical root (`medical`: among the pieces
    before) or is a derivation: joining prefixes, then one word of MIN_DERIVED_BASE letters or more and a generic
    ending ("incisional", "nonblanchable"; `derived`: the pieces before are those prefixes and that word), or joining
    prefixes and a word (`prefixes_only`: the pieces before are joining prefixes only)?"""
    if rest in MEDICAL_ENDINGS:
        return True
    if rest in GENERIC_ENDINGS and (medical or derived):
        return True
    if len(rest) >= 3 and _lexicon_word(rest):
        return True
    if len(rest) >= (3 if medical else MIN_DERIVED_BASE) and (medical or prefixes_only) and is_english_word(rest):
        return True
    for cut in range(2, len(rest) - 1):
        found = _piece(rest[:cut])
        if found is None:
            continue
        kind, is_medical = found
        after = rest[cut:]
        state = (medical or is_medical, prefixes_only and kind == "word" and cut >= MIN_DERIVED_BASE,
                 prefixes_only and kind == "prefix")
        if _parses(after, *state):
            return True
        if kind != "prefix" and after[:1] in _CONNECTORS and len(after) > 3 and _parses(after[1:], *state):
            return True
    return False


@lru_cache(maxsize=65536)
def medical_word(word: str) -> bool:
    """Is the word built from medical roots ("hyperosmolar", "chronotropic", "mineralocorticoid", "dysrhythmias") or
    derived from a word ("incisional")? Pieces (combining forms, joining prefixes, words, stems of words; a connecting
    "o" or "i" between them) and a last piece (an ending or a word), with a medical root among them (a combining form,
    a medical ending, a lexicon drug, disease or test), or joining prefixes, a word and a generic ending. An invented
    "blorvex" or "trisolen" ("tri" + the rare "solen") is not."""
    w = word.lower()
    return len(w) >= MIN_MEDICAL_WORD and w.isalpha() and _parses(w)
