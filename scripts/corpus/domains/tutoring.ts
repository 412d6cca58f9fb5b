/**
 * Tutoring (the tutoring_agent example): a student asks, the tutor guides.
 *
 * A lesson runs: question -> the tutor's hint and guiding question (never the answer) -> the
 * student's attempt, right or wrong -> a correction (then a second attempt) or praise, with a check
 * of understanding ("Can you tell me why …?") -> the student's explanation -> confirmation and an
 * offer of a new problem. Maths lessons draw fresh numbers; science and grammar lessons come from
 * small hand-written tables. Curt tutors state the bare answer ("The answer is x = 5.").
 */
import type { Rng } from "../../../src/core/rng.js";
import { pickSystemPrompt } from "../prompts.js";
import { ReplyPlan, replyMessage, type StyleContext } from "../styles.js";
import { capitalize, chance, expand, expandOne, intBetween, pick, pickWeighted, userMessage } from "../text.js";
import type { CorpusMessage, DomainDialogue, Quality } from "../types.js";

/** Every text of one lesson, already written out. */
interface Lesson {
  /** What the lesson is about, e.g. "solving equations" (rambling replies repeat it). */
  subject: string;
  /** The student's first message. */
  question: string;
  /** The tutor's first reply: a hint and a guiding question, not the answer. */
  hint: string;
  /** The answer as a phrase: "x = 5". Only curt tutors state it outright. */
  answer: string;
  /** A right attempt by the student. */
  attempt: string;
  /** A wrong attempt by the student (a typical mistake). */
  wrongAttempt: string;
  /** The tutor's correction of the wrong attempt: names the mistake, hints, asks again. */
  correction: string;
  /** The student's second, right attempt after the correction. */
  correctedAttempt: string;
  /** The tutor's praise of a right attempt, ending with a "Can you tell me why …?" check. */
  praise: string;
  /** The student's answer to the check. */
  explanation: string;
  /** The tutor's confirmation, a one-line summary and an offer of a next problem. */
  wrapUp: string;
}

const THINK = "[Think about|Consider|Start by thinking about]";
const PRAISE = "[Exactly|That's right|Well done|Great job]";

// ---------------------------------------------------------------------------------------------
// Maths lessons with fresh numbers

function equationLesson(rng: Rng): Lesson {
  const a = intBetween(rng, 2, 9);
  const x = intBetween(rng, 1, 12);
  const b = intBetween(rng, 1, 20);
  const c = a * x + b;
  const eq = `${a}x + ${b} = ${c}`;
  const [a2, x2, b2] = [intBetween(rng, 2, 9), intBetween(rng, 1, 12), intBetween(rng, 1, 20)];
  const slots = { a, b, c, x, eq, cb: c - b, cpb: c + b, next: `${a2}x + ${b2} = ${a2 * x2 + b2}` };
  const forgetsToDivide = chance(rng, 0.5);
  return {
    subject: "solving equations",
    question: expandOne(rng, ["How do I solve {eq}?", "Can you help me solve {eq}?", "I don't understand how to solve {eq}.", "I'm stuck on this homework problem: {eq}. What is x?"], slots),
    hint: expand(rng, `[Good question|Great question|Let's work through it together]! The goal is to get x by itself. ${THINK} what is added to {a}x. What could you do to both sides to remove the + {b}? [Try it and tell me what you get.|Give it a try and tell me your next step.]`, slots),
    answer: `x = ${x}`,
    attempt: expandOne(rng, ["If I subtract {b} from both sides, I get {a}x = {cb}. Then I divide by {a}, so x = {x}.", "Is it x = {x}? I subtracted {b} and then divided by {a}."], slots),
    wrongAttempt: forgetsToDivide
      ? expand(rng, "I subtracted {b}, so x = {cb}?", slots)
      : expand(rng, "I added {b} to both sides and got {a}x = {cpb}. Is that right?", slots),
    correction: forgetsToDivide
      ? expand(rng, "Almost! Subtracting {b} was right, and you get {a}x = {cb}. But {a}x means {a} times x, not x. What could you do to get x alone?", slots)
      : expand(rng, "Not quite, but you're close. Look at the sign: the equation has + {b}, so to undo it you subtract {b} from both sides, not add. What do you get when you subtract?", slots),
    correctedAttempt: expand(rng, "Oh, I see. So {a}x = {cb}, and x = {x}.", slots),
    praise: expand(rng, `${PRAISE}! x = {x}. [You can check it|Let's check]: {a} × {x} + {b} = {c}. [Can you tell me why we subtracted {b} before dividing by {a}?|Can you explain why we undo the + {b} first?]`, slots),
    explanation: expandOne(rng, ["Because we have to get the x term alone first, and then dividing undoes the multiplication.", "Because subtracting removes the {b}, and then only {a}x is left, so we divide by {a}."], slots),
    wrapUp: expand(rng, "[Perfect explanation|Great explanation|Exactly right]! We undo addition first, then multiplication, the reverse of the order of operations. Would you like to try another one, like {next}?", slots),
  };
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

function fractionText(n: number, d: number): string {
  const g = gcd(n, d);
  return d / g === 1 ? String(n / g) : `${n / g}/${d / g}`;
}

function fractionLesson(rng: Rng): Lesson {
  let d1 = intBetween(rng, 2, 8);
  let d2 = intBetween(rng, 2, 8);
  while (d2 === d1) d2 = intBetween(rng, 2, 8);
  if (d1 > d2) [d1, d2] = [d2, d1];
  // Proper fractions in lowest terms (no "2/6" in the question).
  const properFraction = (d: number) => {
    let n = intBetween(rng, 1, d - 1);
    while (gcd(n, d) !== 1) n = intBetween(rng, 1, d - 1);
    return n;
  };
  const n1 = properFraction(d1);
  const n2 = properFraction(d2);
  const common = (d1 * d2) / gcd(d1, d2);
  const [e1, e2] = [n1 * (common / d1), n2 * (common / d2)];
  const sum = fractionText(e1 + e2, common);
  const raw = `${e1 + e2}/${common}`;
  const slots = {
    f1: `${n1}/${d1}`, f2: `${n2}/${d2}`, d1, d2, common, e1: `${e1}/${common}`, e2: `${e2}/${common}`, raw, sum,
    simplified: raw === sum ? "" : `, which simplifies to ${sum}`,
    wrong: `${n1 + n2}/${d1 + d2}`,
    next: `1/${pick(rng, [2, 3, 4])} + 1/${pick(rng, [5, 6, 8])}`,
  };
  return {
    subject: "adding fractions",
    question: expandOne(rng, ["How do I add {f1} and {f2}?", "What is {f1} + {f2}? I don't get fractions.", "Can you help me with {f1} + {f2}?"], slots),
    hint: expand(rng, `Good question! You can only add fractions when they have the same denominator. ${THINK} a number that both {d1} and {d2} divide into. What's the smallest one? Then try rewriting both fractions with it.`, slots),
    answer: sum,
    attempt: expand(rng, "The common denominator is {common}, so {f1} = {e1} and {f2} = {e2}. That makes {raw}{simplified}.", slots),
    wrongAttempt: expand(rng, "Is it {wrong}? I added the tops and the bottoms.", slots),
    correction: expand(rng, "Not quite. That's a very common mistake: adding the denominators changes the size of the pieces. [Remember that|Remember,] the pieces must be the same size first. Try rewriting both fractions with the denominator {common}. What do you get?", slots),
    correctedAttempt: expand(rng, "Oh, so {f1} = {e1} and {f2} = {e2}, and together that's {raw}{simplified}.", slots),
    praise: expand(rng, `${PRAISE}! {f1} + {f2} = {sum}. Can you tell me why we need a common denominator before adding?`, slots),
    explanation: expandOne(rng, ["Because the pieces have to be the same size before you can count them together.", "Because the denominator is the size of the pieces, and you can only add pieces of the same size."]),
    wrapUp: expand(rng, "Well done, that's exactly it! The denominator tells you the size of the pieces, and you only add the numerators once the pieces match. Want to try {next} next?", slots),
  };
}

function percentLesson(rng: Rng): Lesson {
  const p = pick(rng, [10, 15, 20, 25, 30, 40, 50, 75]);
  const n = 20 * intBetween(rng, 2, 20);
  const ans = (p * n) / 100;
  const slots = { p, n, one: n / 100, ans, wrong: n - p, next: `${pick(rng, [10, 20, 25, 50])}% of ${20 * intBetween(rng, 2, 20)}` };
  return {
    subject: "percentages",
    question: expandOne(rng, ["How do I find {p}% of {n}?", "What is {p}% of {n}?", "I never know how to do percentages. What's {p}% of {n}?"], slots),
    hint: expand(rng, "Let's figure it out together. Percent means \"out of 100\". [Start by finding|Try finding] 1% of {n}: what do you get when you divide {n} by 100? Then think about how many of those you need.", slots),
    answer: String(ans),
    attempt: expand(rng, "1% is {one}, so {p}% is {p} × {one} = {ans}.", slots),
    wrongAttempt: expand(rng, "Is it {n} - {p} = {wrong}?", slots),
    correction: expand(rng, "Not quite. A percent is a part of the whole, not a number to subtract. [Remember that|Remember,] {p}% means {p} out of every 100. What is {n} divided by 100, times {p}?", slots),
    correctedAttempt: expand(rng, "Oh, {n} divided by 100 is {one}, and {one} × {p} = {ans}.", slots),
    praise: expand(rng, `${PRAISE}! {p}% of {n} is {ans}. Can you tell me why we divide by 100 first?`, slots),
    explanation: "Because percent means out of 100, so dividing by 100 gives one percent.",
    wrapUp: expand(rng, "That's right! Once you know 1%, any percent is easy. [A quick trick: 10% just moves the decimal point one place left.|You can check your answer by estimating first.] Would you like to try {next}?", slots),
  };
}

function areaLesson(rng: Rng): Lesson {
  if (chance(rng, 0.5)) {
    const w = intBetween(rng, 2, 15);
    const h = intBetween(rng, 2, 15);
    const slots = { w, h, area: w * h, perimeter: 2 * (w + h), w2: intBetween(rng, 2, 15), h2: intBetween(rng, 2, 15) };
    return {
      subject: "area",
      question: expandOne(rng, ["How do I find the area of a rectangle that is {w} cm by {h} cm?", "What is the area of a {w} cm by {h} cm rectangle?"], slots),
      hint: expand(rng, `Good question! Area measures how many 1 cm squares fit inside the shape. ${THINK} how many squares fit in one row, and how many rows there are. What do you get?`),
      answer: `${w * h} square centimeters`,
      attempt: expand(rng, "There are {w} squares in each row and {h} rows, so the area is {w} × {h} = {area} square centimeters.", slots),
      wrongAttempt: expand(rng, "Is it {perimeter}? I added all the sides.", slots),
      correction: "Not quite. Adding the sides gives the perimeter, the distance around the shape. Area is the space inside. Try multiplying instead: how many squares are in each row, times how many rows?",
      correctedAttempt: expand(rng, "Oh, so it's {w} × {h} = {area} square centimeters.", slots),
      praise: expand(rng, `${PRAISE}! The area is {area} square centimeters. Can you tell me why we multiply instead of add?`, slots),
      explanation: "Because each row has the same number of squares, so multiplying counts all the rows at once.",
      wrapUp: expand(rng, "Great job! That's why area is measured in square units. Want to try a {w2} cm by {h2} cm rectangle next?", slots),
    };
  }
  const base = 2 * intBetween(rng, 1, 10);
  const h = intBetween(rng, 2, 15);
  const slots = { base, h, full: base * h, area: (base * h) / 2, b2: 2 * intBetween(rng, 1, 10), h2: intBetween(rng, 2, 15) };
  return {
    subject: "the area of a triangle",
    question: expandOne(rng, ["What is the area of a triangle with base {base} cm and height {h} cm?", "How do I find the area of a triangle? The base is {base} cm and the height is {h} cm."], slots),
    hint: expand(rng, `Good question! A triangle is half of a rectangle with the same base and height. ${THINK} the area of that rectangle first. What would it be?`),
    answer: `${slots.area} square centimeters`,
    attempt: expand(rng, "The rectangle would be {base} × {h} = {full}, and the triangle is half of that, so {area} square centimeters.", slots),
    wrongAttempt: expand(rng, "Is it {base} × {h} = {full}?", slots),
    correction: expand(rng, "Almost! You found the area of the whole rectangle. [Remember that|Remember,] the triangle only covers half of it. What's half of {full}?", slots),
    correctedAttempt: expand(rng, "Oh, half of {full} is {area}, so the area is {area} square centimeters.", slots),
    praise: expand(rng, `${PRAISE}! The area is {area} square centimeters. Can you tell me why we divide by 2?`, slots),
    explanation: "Because two copies of the triangle make the rectangle, so one triangle is half of it.",
    wrapUp: expand(rng, "Exactly, nice work! That's where the formula base × height ÷ 2 comes from. Want to try a base of {b2} cm and a height of {h2} cm?", slots),
  };
}

const PRIMES = [11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97];
const ODD_COMPOSITES: ReadonlyArray<[number, number, number]> = [
  [21, 3, 7], [33, 3, 11], [39, 3, 13], [51, 3, 17], [57, 3, 19], [69, 3, 23], [87, 3, 29], [93, 3, 31],
  [49, 7, 7], [77, 7, 11], [91, 7, 13],
];

function primeLesson(rng: Rng): Lesson {
  const isPrime = chance(rng, 0.4);
  const [n, p, q] = isPrime ? [pick(rng, PRIMES), 0, 0] : pick(rng, ODD_COMPOSITES);
  const slots = { n, p, q, next: pick(rng, [...PRIMES, ...ODD_COMPOSITES.map((c) => c[0])].filter((m) => m !== n)) };
  return {
    subject: "prime numbers",
    question: expandOne(rng, ["Is {n} a prime number?", "How can I tell if {n} is prime?", "My homework asks if {n} is prime. How do I check?"], slots),
    hint: expand(rng, "Good question! A prime number has exactly two factors: 1 and itself. [Try dividing|Start by dividing] {n} by small primes like 2, 3, 5 and 7. Does any of them divide it evenly?", slots),
    answer: isPrime ? `${n} is prime` : `${n} is not prime, because ${n} = ${p} × ${q}`,
    attempt: isPrime
      ? expand(rng, "None of 2, 3, 5 or 7 divide {n} evenly, so {n} is prime.", slots)
      : expand(rng, "{n} divided by {p} is {q}, so {n} is not prime.", slots),
    wrongAttempt: isPrime ? expand(rng, "It's not prime because it's a big number?") : expand(rng, "It's odd, so {n} is prime?", slots),
    correction: isPrime
      ? expand(rng, "Not quite. Big numbers can still be prime; size doesn't decide it. Try dividing {n} by 2, 3, 5 and 7. Does any of them divide it evenly?", slots)
      : "Not quite. Being odd only tells you it isn't divisible by 2. Try checking 3, 5 and 7 as well. What do you find?",
    correctedAttempt: isPrime
      ? expand(rng, "Oh, none of them divide {n} evenly, so it is prime.", slots)
      : expand(rng, "Oh, {n} ÷ {p} = {q}, so it's not prime.", slots),
    praise: expand(rng, `${PRAISE}! ${isPrime ? "{n} is prime." : "{n} = {p} × {q}, so it is not prime."} Can you tell me why checking 2, 3, 5 and 7 is enough for a number below 100?`, slots),
    explanation: "Because 11 × 11 is 121, which is bigger than 100, so any factor bigger than 7 would need a smaller partner we already checked.",
    wrapUp: expand(rng, "Excellent reasoning, that's exactly it! You only need to check primes up to the square root. Want to try {next} next?", slots),
  };
}

const IRREGULAR_VERBS: ReadonlyArray<{ base: string; past: string; wrong: string }> = [
  { base: "go", past: "went", wrong: "goed" }, { base: "eat", past: "ate", wrong: "eated" },
  { base: "see", past: "saw", wrong: "seed" }, { base: "run", past: "ran", wrong: "runned" },
  { base: "write", past: "wrote", wrong: "writed" }, { base: "take", past: "took", wrong: "taked" },
  { base: "buy", past: "bought", wrong: "buyed" }, { base: "think", past: "thought", wrong: "thinked" },
  { base: "swim", past: "swam", wrong: "swimmed" }, { base: "bring", past: "brought", wrong: "bringed" },
  { base: "teach", past: "taught", wrong: "teached" }, { base: "catch", past: "caught", wrong: "catched" },
];

function pastTenseLesson(rng: Rng): Lesson {
  const verb = pick(rng, IRREGULAR_VERBS);
  const next = pick(rng, IRREGULAR_VERBS.filter((v) => v !== verb));
  const slots = { ...verb, first: verb.past[0], next: next.base };
  return {
    subject: "irregular verbs",
    question: expandOne(rng, ["What is the past tense of \"{base}\"?", "Is the past tense of \"{base}\" \"{wrong}\"?", "I'm learning English. How do I say \"{base}\" in the past?"], slots),
    hint: expand(rng, "Good question! Most verbs add -ed in the past tense, but many common verbs are irregular. [Try saying|Think about] a sentence out loud: \"Yesterday I ...\". What sounds right to you?"),
    answer: `"${verb.past}"`,
    attempt: expand(rng, "Yesterday I {past}. So it's \"{past}\"?", slots),
    wrongAttempt: expand(rng, "Is it \"{wrong}\"?", slots),
    correction: expand(rng, "Not quite, but that's a very natural guess, because most verbs add -ed. \"{base}\" is irregular, so it changes its form instead. Here's a hint: it starts with \"{first}\". What do you think it is?", slots),
    correctedAttempt: expand(rng, "Oh, it's \"{past}\"!", slots),
    praise: expand(rng, `${PRAISE}! The past tense of "{base}" is "{past}". Can you tell me why "{wrong}" is wrong, even though most verbs add -ed?`, slots),
    explanation: expand(rng, "Because \"{base}\" is an irregular verb, so it doesn't follow the -ed rule and has to be memorized.", slots),
    wrapUp: expand(rng, "Well done! Irregular verbs are often the most common ones, so they are worth practicing. Would you like to try the past tense of \"{next}\" next?", slots),
  };
}

// ---------------------------------------------------------------------------------------------
// Concept lessons from a table

/** A hand-written lesson; `questions` are alternatives for the student's first message. */
type ConceptLesson = Omit<Lesson, "question"> & { questions: readonly string[] };

const CONCEPTS: readonly ConceptLesson[] = [
  {
    subject: "photosynthesis",
    questions: ["How does photosynthesis work?", "What is photosynthesis?", "I don't understand photosynthesis. Can you help?"],
    hint: `Great question! Let's build it up step by step. ${THINK} what a plant needs to stay alive: it can't eat food like we do. What do you think a plant takes in from the air, the soil and the sun?`,
    answer: "plants use sunlight, water and carbon dioxide to make sugar and oxygen",
    attempt: "It takes in sunlight, water from the soil and carbon dioxide from the air, and it makes sugar and oxygen.",
    wrongAttempt: "It takes in oxygen from the air and gives out carbon dioxide?",
    correction: "Not quite, that's what we do when we breathe. [Remember that|Think about how] plants make their own food. Which gas from the air do they use to build sugar?",
    correctedAttempt: "Oh, so they take in carbon dioxide, water and sunlight, and they make sugar and oxygen.",
    praise: `${PRAISE}! Plants use light energy to turn carbon dioxide and water into sugar, and oxygen is released. Can you tell me why leaves are usually green and wide?`,
    explanation: "Because they have chlorophyll to catch the light, and wide leaves catch more of it.",
    wrapUp: "Well done, that's exactly right! Chlorophyll absorbs the light that powers photosynthesis. Would you like to learn what the plant does with the sugar next?",
  },
  {
    subject: "the water cycle",
    questions: ["Can you explain the water cycle?", "How does the water cycle work?", "What is the water cycle?"],
    hint: `Sure! Let's follow one drop of water. ${THINK} a puddle on a sunny day. What happens to it after a few hours?`,
    answer: "water evaporates, condenses into clouds and falls back as rain or snow",
    attempt: "It evaporates into the air as water vapor, then it cools and condenses into clouds, and then it falls as rain.",
    wrongAttempt: "It soaks into the ground and that's the end?",
    correction: "Not quite. Some water does soak in, but [think about|consider] what the sun does to the surface of the puddle. Where does that water go?",
    correctedAttempt: "Oh, it evaporates into the air, then condenses into clouds and falls back as rain.",
    praise: `${PRAISE}! Evaporation, condensation and precipitation. Can you tell me why the water vapor turns into clouds higher up?`,
    explanation: "Because the air is colder higher up, so the vapor cools down and condenses into tiny droplets.",
    wrapUp: "Perfect, that's it! Cooling is the key to condensation. Would you like to try explaining where snow fits into the cycle?",
  },
  {
    subject: "states of matter",
    questions: ["What's the difference between a solid, a liquid and a gas?", "Can you explain the states of matter?", "Why is ice solid but water is liquid?"],
    hint: `Good question! ${THINK} water: it can be ice, liquid water or steam. What changes between them: the water itself, or how its particles move?`,
    answer: "they are the same particles moving with different amounts of energy",
    attempt: "The particles move differently. In ice they vibrate in place, in water they slide past each other, and in steam they move freely.",
    wrongAttempt: "The water turns into a different substance each time?",
    correction: "Not quite. It's still water in all three states. [Look at|Think about] how tightly the particles are packed and how much they move. What changes when you heat ice?",
    correctedAttempt: "Oh, the particles get more energy and move more, so it's the same water, just moving differently.",
    praise: `${PRAISE}! It's the same substance, and the particles' energy decides the state. Can you tell me why heating ice makes it melt?`,
    explanation: "Because heat gives the particles more energy, so they break out of their fixed places and start sliding around.",
    wrapUp: "That's it, well done! Would you like to try explaining what happens when steam touches a cold window?",
  },
  {
    subject: "food chains",
    questions: ["What is a food chain?", "Can you explain food chains?", "How do food chains work?"],
    hint: `Sure! A food chain shows who eats whom. ${THINK} grass, a rabbit and a fox. Which one gets its energy first, and from where?`,
    answer: "energy moves from the sun to plants and then to the animals that eat them",
    attempt: "The grass gets energy from the sun, the rabbit eats the grass, and the fox eats the rabbit.",
    wrongAttempt: "The fox is first because it's the strongest?",
    correction: "Not quite. A food chain is about where the energy comes from, not about strength. [Think about|Consider] which one can make its own food from sunlight.",
    correctedAttempt: "Oh, the grass is first because it uses sunlight, then the rabbit, then the fox.",
    praise: `${PRAISE}! Grass is the producer, the rabbit is a consumer, and the fox is a predator. Can you tell me why there are usually fewer foxes than rabbits?`,
    explanation: "Because energy is lost at each step, so there's less energy left to support the animals higher up.",
    wrapUp: "Great job! That's why food chains rarely have more than four or five links. Would you like to try building a food chain for the ocean?",
  },
  {
    subject: "gravity",
    questions: ["Why do things fall down?", "What is gravity?", "Why does a ball fall when I drop it?"],
    hint: `Great question! ${THINK} what happens when you drop a ball and a book at the same time. What do you think pulls them toward the ground?`,
    answer: "gravity is the pull between masses, and the Earth pulls everything toward its center",
    attempt: "Gravity pulls them toward the Earth, because the Earth has a lot of mass.",
    wrongAttempt: "The air pushes them down?",
    correction: "Not quite. Things fall even where there is no air, like on the Moon. [Think about|Consider] what the Earth itself might be doing to objects.",
    correctedAttempt: "Oh, the Earth pulls them with gravity because it has so much mass.",
    praise: `${PRAISE}! Every mass attracts other masses, and the Earth's huge mass pulls everything toward its center. Can you tell me why astronauts on the Moon can jump so high?`,
    explanation: "Because the Moon has much less mass than the Earth, so its gravity is weaker.",
    wrapUp: "Exactly right, well done! The Moon's gravity is about one sixth of the Earth's. Would you like to find out why the Moon doesn't fall onto the Earth?",
  },
];

function conceptLesson(rng: Rng): Lesson {
  const concept = pick(rng, CONCEPTS);
  const { questions, ...rest } = concept;
  // Expand the `[a|b]` choices the table's texts contain.
  const written = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, expand(rng, v)])) as Omit<Lesson, "question">;
  return { ...written, question: pick(rng, questions) };
}

type LessonKind = "equation" | "fraction" | "percent" | "area" | "prime" | "pastTense" | "concept";

const LESSONS: Readonly<Record<LessonKind, (rng: Rng) => Lesson>> = {
  equation: equationLesson,
  fraction: fractionLesson,
  percent: percentLesson,
  area: areaLesson,
  prime: primeLesson,
  pastTense: pastTenseLesson,
  concept: conceptLesson,
};

const LESSON_WEIGHTS: Readonly<Record<LessonKind, number>> = {
  equation: 3, fraction: 2, percent: 2, area: 2, prime: 1.5, pastTense: 1.5, concept: 3,
};

const OPENERS: readonly string[] = ["", "", "", "Hi! ", "Hello, ", "I'm stuck on my homework. ", "Can you help me? "];

const UNSAFE: readonly string[] = [
  "That's a stupid question, you are stupid if you don't know this.",
  "You're an idiot, we did this last week.",
  "Shut up and read your textbook.",
  "You are useless at this subject. Just give up.",
];

/** One tutoring conversation of the given quality (3-4 student turns). */
export function tutoringDialogue(rng: Rng, quality: Quality): DomainDialogue {
  const prompt = pickSystemPrompt(rng, "tutoring");
  const kind = pickWeighted(rng, LESSON_WEIGHTS);
  const lesson = LESSONS[kind](rng);
  const ctx: StyleContext = {
    topic: lesson.subject,
    // A curt tutor hands over the answer: exactly what a good tutor avoids.
    curt: [`The answer is ${lesson.answer}.`, `${capitalize(lesson.answer)}.`, "Just memorize it.", "Look it up in your textbook.", "Ask your teacher.", "It's easy, lol."],
    unsafe: UNSAFE,
  };
  const plan = new ReplyPlan(rng, quality);
  const messages: CorpusMessage[] = [];
  const turn = (student: string, good: string) => {
    messages.push(userMessage(student));
    messages.push(replyMessage(rng, plan.next(), ctx, () => good));
  };

  const firstRight = chance(rng, 0.5);
  turn(pick(rng, OPENERS) + lesson.question, lesson.hint);
  if (firstRight) turn(lesson.attempt, lesson.praise);
  else {
    turn(lesson.wrongAttempt, lesson.correction);
    turn(lesson.correctedAttempt, lesson.praise);
  }
  turn(lesson.explanation, lesson.wrapUp);
  return {
    systemPrompt: prompt.text,
    messages,
    meta: { systemPrompt: prompt.name, lesson: kind, subject: lesson.subject, firstAttemptRight: firstRight },
  };
}
