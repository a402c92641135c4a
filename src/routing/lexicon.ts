/**
 * Word families the classifier counts (one named feature per family, `words-medical`…), one
 * comma-separated list per family. An entry is a word (`bug`), a stem ending in `*` (`diagnos*`)
 * or a phrase of two to four words (`step by step`), in any language written in Latin, Greek or
 * Cyrillic letters (accents count: `médecin`). Text is split into lowercase runs of letters and digits, so `step-by-step` and `tl;dr` match `step by step` and `tl dr`. A stem inside a
 * phrase is not supported: write the phrase out. `features.ts` looks them up by word hash.
 */
export const LEXICON = {
  code: `
    caching, redis, cdn, index, query, queries, latency,
    github actions, ci, ci cd, npm, lint*, deploy*, publish*, cache*, firmware, monolith, microservice*, saas, multi tenant, tables,
    code, coding, function, functions, method, class, classes, implement*, refactor*, debug*, bug,
    bugs, compile*, compiler, runtime, exception, stack trace, traceback, regex, algorithm*,
    endpoint*, api, sql, schema, database, typescript, javascript, python, rust, golang, java,
    kotlin, swift, haskell, ruby, php, bash, shell script, react, node, django, flask, kubernetes,
    docker, terraform, unit test, unit tests, test suite, integration test*, pull request,
    repository, repo, git, recursion, recursive, async, await, concurren*, thread*, mutex, deadlock,
    race condition, memory leak, big o, complexity, linked list, binary tree, hash map, parser,
    lexer, regular expression, regular expressions, validates, validation, cli, script, const, def, struct, impl, println, printf, nullpointer*, segfault, null,
    undefined,
    fonction, fonctions, funktion, funktionen, función, funciones, função, funções, funzione, funzioni,
    requête, requêtes, abfrage, código, codice, programm, programa, programma, fehler, erreur, errore
  `,
  math: `
    linear algebra, a b test, conversion rate, conversions,
    prove, proof, theorem, lemma, derive, derivation, derivative*, integral*, equation*,
    probabilit*, expected value, variance, matrix, matrices, eigen*, polynomial*, calculus,
    combinatori*, modular arithmetic, prime*, inequalit*, bayes*, regression, statistic*, hypothesis
    test*, confidence interval, standard deviation, vector*, geometry, logarithm*, converge*, limit
    of, induction, solve for, differential, optimization, optimise, optimize, squared, sum of,
    formula, calculation*, arithmetic, fraction*, percentage*, average, mean, median,
    probabilité, wahrscheinlichkeit, probabilidad, probabilidade, probabilità, dérivée, ableitung,
    derivada, derivata, démontre, beweis, demuestra, prove que, dimostra, équation, gleichung, ecuación,
    equação, equazione, calcule, calcula, berechne, calcola
  `,
  multiStep: `
    step by step, steps, plan, planning, design, architect*, roadmap, migrat*, strategy, strategies,
    workflow, pipeline, trade off, tradeoff*, trade offs, pros and cons, compare, comparison,
    versus, alternatives, options, afterwards, finally, phase*, milestone*, prioriti*, requirements,
    constraints, edge cases, end to end, walk me through, break down, outline, scenario*, itinerary,
    schedule, show your work, show your steps, show the steps, budget, timeline, logistics,
    rollback, checklist, in order,
    étape, étapes, schritt, schritte, paso a paso, passo a passo, planifier, planifica, planeje, pianifica,
    migración, migração, migrazione
  `,
  analysis: `
    breaks down, break down, when each,
    which would you, main differences, for and against, balanced, factors, is it really, significan*, statistically,
    risk, risks, analy*, assess*, evaluat*, critique, critically, investigat*, root cause, implication*, why,
    explain, reasoning, in depth, detailed, thorough*, comprehensive, justify, interpret*, insight*,
    trends, patterns, diagnose the, review, audit, examine, weaknesses, strengths, counterargument*,
    argument*, impact, consequences, difference between, differences, failure mode*, when to use,
    which is better, better choice, anomal*, explain the, identify, what went wrong,
    explique, expliquer, erkläre, erklären, explica, explicar, spiega, spiegare, vergleiche, compara,
    confronta, anali*, analysiere, avantages et inconvénients, vor und nachteile, ventajas y desventajas,
    vantagens e desvantagens, vantaggi e svantaggi, pourquoi, warum, por qué, perché, unterschied,
    différence, diferencia, diferença, differenza
  `,
  data: `
    json, csv, yaml, xml, spreadsheet, dataset, data set, columns, rows, table, records, schema,
    parse, log file, logs
  `,
  research: `
    study, sample size, randomi*, validity, intervention, control group, effect size,
    correlation*, correlational, experiment*, causation, causes, randomized, trials, longitudinal,
    research, literature, studies, peer reviewed, meta analysis, systematic review, state of the
    art, survey of, citation*, cite, sources, hypothes*, methodolog*, empirical, evidence, findings,
    open problems, frontier, novel approach*, research agenda, grant proposal, experimental design,
    replicat*, confound*, causal, dissertation, thesis,
    étude, études, studie, studien, estudio, estudios, estudo, estudos, essai clinique,
    ensayo clínico, ensaio clínico, studio clinico, klinische studie, littérature, literatur, literatura,
    letteratura, evidenz, evidencia, evidência, evidenze, biais, sesgo, sesgos, viés, bias, protocole,
    protocolo, protocollo, studiendesign, méta analyse, metaanalyse, metaanalysen, metanálisis, metanálise,
    metanalisi, revue critique, revisión crítica, revisão crítica
  `,
  medical: `
    blood sugar, glucose, stop taking, side effect, withdrawal,
    interaction*, drug interaction*, dementia, confused, confusion, emergency room, er, gp, ambulance, 911, tablet, tablets, fever of,
    patient*, diagnos*, symptom*, dose, doses, dosage*, dosing, mg, medication*, prescri*, drug,
    drugs, treatment*, therapy, clinical, clinician*, chemo*, pregnan*, surgery, surgical, allerg*,
    overdose, warfarin, insulin, antibiotic*, blood pressure, chest pain, contraindicat*, side
    effects, mental health, suicid*, self harm, tumor*, cancer, cardiac, infection, vaccine*,
    pediatric, icu, sepsis, stroke, seizure*, biopsy, mri, lab results, kidney, liver, diabetes,
    hypertension, anticoagulant*, opioid*, doctor, physician, nurse, hospital, headache, fever,
    bleeding, dizz*, nausea, vomit*, blurry vision, vision, rash, swelling, acetaminophen,
    paracetamol, ibuprofen, aspirin, alcohol, pills, pill, hba1c, kidney disease, heart, breathing,
    shortness of breath, pain, miscarriage, weeks pregnant, baby, newborn, fainted,
    médicament*, medikament*, medicamento*, medicinal*, farmac*, pharmac*, dosis, dosi, posologie,
    dosierung, ordonnance, rezept, receta, receita, ricetta, médecin, arzt, ärztin, médico, medico,
    hôpital, krankenhaus, notaufnahme, notarzt, ospedale, urgences, urgencias, pronto soccorso, urgência,
    fièvre, fieber, fiebre, febre, febbre, enceinte, grossesse, schwanger*, embarazada, embarazo, grávida,
    gravidez, incinta, gravidanza, douleur*, schmerz*, dolor, dolores, dor, dores, dolore, symptôme*,
    síntoma*, sintoma*, anticoagul*, antikoagul*, marcumar, coumadin, insuline, insulina, blutzucker,
    glycémie, glucemia, glicemia, antibiotique*, antibiotik*, antibiótico*, antibiotico*, comprimé*,
    tablette*, pastilla*, comprimido*, bébé, säugling, bebé, bebê, neonato, pédiatre, kinderarzt, pediatra,
    convulsion*, krampf*, convulsión*, convulsão, convulsion, infarctus, herzinfarkt, infarto, schlaganfall,
    ictus, derrame, avc, erbrechen, übelkeit, nausée*, náusea*, saignement*, blutung*, sangrado,
    sangramento, sanguinamento, alerg*, ibuprofène, dipirona, tachipirina, chirurg*, cirug*, cirurg*,
    chimio*, quimio*, chemio*, cáncer, câncer, cancro, krebs, enfermera, infirmière, krankenschwester,
    infermiera, enfermeira, paciente, paziente, malade, krank, enfermo, doente, malato,
    swallow*, poison*, ingest*, unconscious, unresponsive, choking, numb*, tingl*, slurred, drooping,
    hopeless, kill myself, end my life, better off without, epipen, anaphyla*, metformin, lisinopril,
    atorvastatin, statin*, sertraline, fluoxetine, citalopram, venlafaxine, tramadol, codeine, morphine,
    oxycodone, fentanyl, prednison*, levothyroxine, lithium, apixaban, rivaroxaban, clopidogrel,
    amoxicillin, methotrexate, digoxin, naproxen, diazepam, lorazepam, alprazolam, gabapentin, heparin
  `,
  legal: `
    tenant rights, tenants rights, security deposit, deposit, lease, small claims, contractor*, misclassif*, labor law, labour law, employment, my chances,
    contract*, clause*, liabil*, lawsuit*, litigat*, sue, suing, court, attorney*, lawyer*, legal,
    legally, compliance, compliant, gdpr, hipaa, regulator*, regulation*, indemni*, negligen*,
    custody, divorce, visa, immigration, patent*, infringe*, terms of service, nda, settlement,
    jurisdiction*, statute*, subpoena, arbitration, warranty, employment law, wrongful termination,
    non compete, copyright, trademark*, defamation, eviction, enforceab*, employer,
    obligation*, rights, notice period, fired, severance, landlord, police, arrested, criminal,
    estate,
    contrat*, vertrag*, verträge, contrato*, contratt*, klausel*, cláusula*, clausola*, avocat*, anwalt*,
    anwält*, abogado*, advogado*, avvocat*, tribunal*, gericht*, juzgado, klage, licenciement*, kündigung*,
    despido*, despedir, demissão, licenziament*, mietvertrag, vermieter*, mieterhöhung, arrendador,
    inquilino*, locataire*, mieter, juridique*, jurídic*, rechtlich*, legale, illégal*, ilegal*,
    rechtswidrig, amende*, bußgeld, multa*, sanzion*, sanción*, abmahnung, urheberrecht*, droit d'auteur,
    derechos de autor, direitos autorais, diritto d'autore, divorcio, divórcio, divorzio, scheidung*,
    haft*, responsabilit*, responsabilid*, dsgvo, rgpd, licenciado, statuts, socio, associé,
    reclamar, réclamer, procès,
    dui, dwi, charged with, indicted, court date, arraign*, plea deal, probation, bail
  `,
  financial: `
    portfolio, retirement, 401k, ira, mortgage, loan*, tax, taxes, valuation, acquisition, acquire,
    merger, ipo, equity, shares, stock, stocks, bonds, runway, fundrais*, term sheet, earn out,
    debt, bankrupt*, cash flow, hedg*, dividend*, pension, savings, annuit*, crypto*, leverage,
    margin call, capital gains, audit findings, financial statements, balance sheet, fiduciary,
    insurance, net worth, inheritance, invest, investing, investment*, investor*, payment*, bank,
    banks, covenant*, funding, lender*, interest rate*, credit, salary, budget shortfall,
    épargne, ersparnis*, erspart*, ahorro*, poupança, risparmi*, retraite, rente, jubilación,
    aposentadoria, pensione, pensión, hypothèque, hypothek*, hipoteca*, ipoteca, mutuo, prêt, prêts,
    kredit*, crédito*, credito, préstamo*, empréstimo*, prestito, placement*, placer, invertir,
    inversión*, investiment*, investimento*, investir, investieren, geldanlage, bourse, aktie*, acciones,
    ações, azioni, héritage, erbe, erbschaft, herencia, herança, eredità, fonds, fondo, fondos, fundo,
    krypto*, cripto*, faillite, insolvenz*, quiebra, falência, fallimento, trésorerie, liquidität,
    tesorería, dette, dettes, schulden, deuda*, dívida*, impôt*, steuer*, impuesto*, imposto*, fisco,
    finanzamt, hacienda, rendimento, rendement, rendite, rentabilidad
  `,
  security: `
    domain controller, service account*, in our network, contain the, lateral, persistence, indicators of compromise,
    root access, admin access, access, permissions, disgruntled, insider, on bad terms, revok*,
    vulnerab*, exploit*, breach*, incident, ransomware, malware, attacker*, compromis*, credential*,
    privilege*, cve, phishing, intrusion, pentest*, penetration test*, zero day, exfiltrat*,
    firewall, access control, threat model*, backdoor, encryption key*, leaked, unauthori*,
    forensic*, lateral movement, siem, soc 2, pci, key rotation, revoke, access key*, api key*,
    secret key*, leak*, exposed, unrecognized, suspicious, hacked, stolen, soc, outbound traffic,
    unknown host, mtls, attack surface*, malicious, cloudtrail, audit log*, card data, controls,
    piratage, piraté, gehackt, hackeado, hackerato, rançongiciel, erpressungstrojaner, fuite, fuites,
    datenleck, filtración, vazamento, vazad*, fuga di dati, violation de données, datenpanne, brecha,
    violação, violazione, non autorisé, unbefugt*, no autorizado, não autorizado, non autorizzato,
    mot de passe, passwort, contraseña, senha, identifiants, zugangsdaten, credenciales, credenciais,
    credenziali, intrus*, angreifer, atacante*, attaccante, hameçonnage, clé api, 
    rançon, lösegeld, rescate, resgate, riscatto
  `,
  advice: `
    how do we, how should we, how should i,
    weigh, weighing, choose, choosing, which should, what are my options, what are my chances, think through,
    should i, should we, do i need, is it safe, safe to, decide, deciding, decision*, recommend*,
    advise, advice, whether to, what would you do, how do we weigh, go or no go, which option, accept the, sign the,
    is it legal, am i liable, can i stop, can i take, worth the risk, should my, should he, should
    she, should they, what do we do, what should, help us decide, help me decide,
    wait for, safe,
    dois je, devrais je, faut il, soll ich, sollen wir, sollte ich, müssen wir, debo, debería,
    deberíamos, devo, devemos, deveria, dovrei, dobbiamo, que faire, que dois je faire, was tun,
    was soll ich, qué hago, qué debo hacer, o que fazemos, o que devo fazer, cosa faccio, cosa devo fare,
    est ce dangereux, ist das gefährlich, es peligroso, é perigoso, è pericoloso, conseilles,
    conviene, vale la pena, lohnt sich
  `,
  stakes: `
    dangerous, danger, harmful, serious, biggest customer,
    irreversible, life threatening, high stakes, high risk, critical, emergency, urgent, lives,
    fatal, millions, billion, board, investors, shareholders, regulators, catastroph*, liability,
    safety critical, production outage, downtime, bet the company, our company, life savings, jail,
    prison, penalt*, fines, lose everything, worst case, get it wrong, right now,
    immediately, recall, lawsuits, safety, harm, injur*, death, deaths, permanent, reputation,
    existential,
    urgente, dringend, sofort, immédiatement, immediatamente, inmediatamente, tout de suite,
    dangereux, dangereuse, gefährlich, peligro*, perigo*, pericol*, mortel*, tödlich, mortal, morte,
    mort, tod, muerte, grave, graves, sécurité, sicherheit, seguridad, segurança, sicurezza,
    rückruf, retirada, richiamo, rappel, millions, millionen, millones, milioni, milhões, économies,
    meldepflicht*, notifier, notificar, notificare
  `,
  creative: `
    poem, poems, poetry, story, stories, short story, novel, chapter, screenplay, lyrics, song,
    eulogy, speech, essay, toast, vows, haiku, limerick, fiction, character*, narrative, monologue,
    scene, memoir, sonnet, verse, fable, tale, dialogue, letter, toast for, wedding speech, lullaby,
    poème, gedicht, poema, poesia, poesie, cuento, conto, racconto, lettre, carta, discours, discurso,
    discorso, éloge funèbre, trauerrede, elogio fúnebre, elogio funebre, erzählung, relato
  `,
  nuance: `
    melodrama*, realizes, peace with, makes peace, gently, honor, grief,
    cheesy, corny, illness, acknowledg*, unspoken, hard year, anniversary,
    nuanc*, subtle, subtly, subtlety, bittersweet, emotional*, grief, grieving, mourning, literary,
    evocative, layered, ambigu*, ambivalen*, poignant, metaphor*, themes, heartfelt, authentic*,
    unreliable narrator, sensitiv*, delicate*, tender, restraint, understated, melanchol*, inner
    life, voice of, in the style of, without being, without sounding, avoid cliche*, cliche*,
    devastating, reconcil*, estranged, passed away, honest, honesty, humor, humour, sentimental,
    raw, vulnerab*, apolog*, forgive*, forgiveness, regret*, loss, died, death, funeral, without
    making, without pressur*, wry, bitter, longing, shame, guilt, tension, slowly realizes, reader,
    readers,
    deuil, trauer, duelo, luto, lutto, funérailles, enterrement, beerdigung, funerale, décédé, verstorben*,
    falleció, faleceu, morto, perte, verlust, pérdida, perda, perdita, pardon, vergeb*, perdón, perdão,
    perdono, brouillé, brouillée, entfremdet, ehrlich, honnête, sincero,
    delicado, delicato, clichés, cliché
  `,
  simple: `
    hi, hello, hey, thanks, thank you, good morning, classify, categorize, categorise, label,
    sentiment, translate, translation, tl dr, one sentence, one word, one line, yes or no, true or
    false, extract, spell, spelling, define, definition, synonym*, antonym*, rephrase, reword,
    grammar, typo*, capital of, convert, stand for, acronym, what time, how many days, quick
    question, short answer, in a word, fix the grammar, proofread, summarize, summarise,     keywords, lowercase, uppercase, reply with, respond with, just the, only the, format this, sort
    these, alphabetical, fun fact, joke,
    traduis, traduire, traduction, übersetze, übersetzen, übersetzung, traduce, traducir, traducción,
    traduza, traduzir, tradução, traduci, tradurre, traduzione, résume, résumer, fasse zusammen,
    zusammenfassung, resume, resumir, resumen, resuma, riassumi, riassunto, corrige, korrigiere, corrija,
    correggi, classifique, clasifica, classifica, klassifiziere, ordne, hauptstadt, capitale de,
    capitale di, capital de, bonjour, salut, merci, danke, hallo, hola, gracias, obrigado, obrigada, olá,
    ciao, grazie, buongiorno, buenos días, guten morgen, en una frase, en une phrase, in einem satz,
    em uma frase, in una frase
  `,
  safety: `
    hazard*, overheat*, fire risk, recall, injur*, fatalit*, explosion, toxic, carbon monoxide,
    structural, load bearing, electrical, gas leak, child safety, product safety, safety risk
  `,
  care: `
    rigorous*, meticulous*, expert, senior, careful*, accuracy is, precise, precisely, double check,
    high quality, world class, principal, specialist, cannot afford, no mistakes
  `,
  brevity: `
    be concise, be brief, briefly, short answers, keep it short, one sentence, concise, terse, no
    explanation, without explanation
  `,
} as const satisfies Record<string, string>;

export type LexiconCategory = keyof typeof LEXICON;
export const LEXICON_CATEGORIES = Object.keys(LEXICON) as LexiconCategory[];
