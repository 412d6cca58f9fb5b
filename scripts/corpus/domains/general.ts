/**
 * General help (the quick_start example): learning, studying, writing, cooking, fitness, money, …
 *
 * 2-4 user turns: an optional greeting ("Hi! Can you help me?"), a request ("I need advice on
 * learning Python."), up to two follow-ups (time, getting stuck, resources, an example, more detail)
 * and an optional thanks ("Thank you for the suggestions!"). Good replies reuse the user's words,
 * give numbered tips or bullets and end with a question or an offer.
 */
import type { Rng } from "../../../src/core/rng.js";
import { pickSystemPrompt } from "../prompts.js";
import { ReplyPlan, replyMessage, type StyleContext } from "../styles.js";
import {
  bulletList,
  capitalize,
  chance,
  expand,
  expandOne,
  intBetween,
  numberedList,
  pick,
  pickDistinct,
  userMessage,
} from "../text.js";
import type { CorpusMessage, DomainDialogue, Quality } from "../types.js";

/** One subject a user asks for help with. */
interface HelpTopic {
  /** The subject as the user says it after "advice on": "learning Python". */
  phrase: string;
  /** The goal as a verb phrase: "learn Python". */
  goal: string;
  /** Tips, each an imperative sentence without the final period. */
  tips: readonly string[];
  /** Resources, without the final period. */
  resources: readonly string[];
  /** A concrete first step, a full sentence. */
  example: string;
  /** How much time to spend, with its frequency: "30 minutes a day". */
  daily: string;
  /** A sentence of encouragement for when the user gets stuck. */
  stuck: string;
}

const TOPICS: readonly HelpTopic[] = [
  {
    phrase: "learning Python",
    goal: "learn Python",
    tips: [
      "Install Python and write a tiny program on the first day",
      "Learn the basics in order: variables, lists, loops, functions",
      "Practice with small exercises every day instead of only reading",
      "Build a small project you care about, like a to-do list or a quiz game",
      "Read error messages carefully, because they usually tell you what went wrong",
      "Read other people's code to pick up good habits",
    ],
    resources: ["the official Python tutorial", "a beginner book with small projects", "free coding exercise sites with instant feedback", "a local or online study group"],
    example: "you could write a program that asks for your name and age and prints how old you will be in ten years.",
    daily: "30 to 60 minutes a day",
    stuck: "Every programmer gets stuck, and debugging is a skill you are building too.",
  },
  {
    phrase: "learning JavaScript",
    goal: "learn JavaScript",
    tips: [
      "Start in the browser console, so you can try code without any setup",
      "Learn variables, functions, arrays and objects first",
      "Build a small web page with a button that changes some text",
      "Practice a little every day and keep your old exercises",
      "Learn to use the browser's developer tools early",
      "Rebuild a simple app you use, like a calculator or a timer",
    ],
    resources: ["a free interactive JavaScript course", "the documentation on the Mozilla developer site", "small weekend project ideas for beginners"],
    example: "you could make a page with a button that counts how many times it was clicked.",
    daily: "30 to 60 minutes a day",
    stuck: "It is normal for JavaScript to feel confusing at first, especially functions and callbacks.",
  },
  {
    phrase: "studying for exams",
    goal: "study better for my exams",
    tips: [
      "Make a study schedule that starts at least two weeks before the exam",
      "Test yourself with practice questions instead of rereading notes",
      "Study in focused blocks of 25 minutes with short breaks",
      "Explain each topic out loud as if you were teaching it",
      "Review the hardest topics first, when your mind is fresh",
      "Sleep well the night before, because memory needs rest",
    ],
    resources: ["past exam papers from your course", "flashcard apps with spaced repetition", "a study group with classmates"],
    example: "you could write ten questions about one chapter tonight and answer them tomorrow without your notes.",
    daily: "two or three focused hours a day",
    stuck: "Hitting a topic you don't understand is a sign of where to focus, not a failure.",
  },
  {
    phrase: "writing an essay",
    goal: "write a better essay",
    tips: [
      "Write your main argument in one sentence before you start",
      "Make an outline with one point per paragraph",
      "Start each paragraph with a clear topic sentence",
      "Support every point with an example or evidence",
      "Write a rough draft quickly, then revise it",
      "Read the essay out loud to catch awkward sentences",
    ],
    resources: ["your school's writing center", "a short guide to essay structure", "examples of strong essays in your subject"],
    example: "if your essay is about school uniforms, your main argument might be: uniforms reduce pressure on students to buy expensive clothes.",
    daily: "about an hour a day",
    stuck: "Writer's block usually means the plan is unclear, so go back to your outline.",
  },
  {
    phrase: "cooking healthy meals",
    goal: "cook healthier meals",
    tips: [
      "Plan your meals for the week before you go shopping",
      "Fill half your plate with vegetables",
      "Cook simple recipes with five or six ingredients",
      "Cook a big batch on the weekend and keep portions in the fridge",
      "Use herbs and spices instead of extra salt",
      "Keep healthy snacks like fruit and nuts at home",
    ],
    resources: ["a beginner cookbook with simple recipes", "free recipe sites that let you search by ingredient", "a meal planning app"],
    example: "you could roast a tray of vegetables with chickpeas and olive oil, which makes three lunches.",
    daily: "20 to 40 minutes a day",
    stuck: "Not every meal will turn out well, and that is fine.",
  },
  {
    phrase: "baking bread",
    goal: "bake my own bread",
    tips: [
      "Start with a simple white loaf before trying sourdough",
      "Weigh your ingredients with a kitchen scale",
      "Knead the dough until it is smooth and stretchy",
      "Let the dough rise somewhere warm until it doubles",
      "Bake until the bottom sounds hollow when you tap it",
      "Write down what you change each time, so you can learn from it",
    ],
    resources: ["a beginner bread baking book", "video tutorials that show kneading", "a baking community forum"],
    example: "you could mix 500 g of flour, 10 g of salt, 7 g of yeast and 320 ml of warm water for your first loaf.",
    daily: "a few hours on a weekend, most of it waiting",
    stuck: "Dense or flat loaves happen to every baker at the start.",
  },
  {
    phrase: "starting to run",
    goal: "start running",
    tips: [
      "Begin with a run-walk plan, like one minute running and two minutes walking",
      "Run at an easy pace where you can still talk",
      "Run three times a week with rest days in between",
      "Get comfortable shoes that fit well",
      "Increase your distance by no more than ten percent a week",
      "Warm up with a few minutes of brisk walking",
    ],
    resources: ["a free couch-to-5K program", "a running app that tracks your progress", "a local running club"],
    example: "this week you could do three sessions of one minute running and two minutes walking, repeated eight times.",
    daily: "20 to 30 minutes, three times a week",
    stuck: "Some runs will feel hard, and that does not mean you are not making progress.",
  },
  {
    phrase: "building a workout routine",
    goal: "build a workout routine",
    tips: [
      "Choose three days a week that fit your schedule",
      "Include squats, push-ups, rows and a plank",
      "Start with light weights or your body weight and focus on form",
      "Add a little weight or a few reps each week",
      "Rest at least one day between hard sessions",
      "Track your workouts in a notebook or an app",
    ],
    resources: ["a beginner strength program", "videos that demonstrate good form", "a trainer for one or two sessions"],
    example: "a first workout could be three rounds of ten squats, eight push-ups, ten rows and a 30-second plank.",
    daily: "30 to 45 minutes, three times a week",
    stuck: "Plateaus are part of training, and small changes usually get you moving again.",
  },
  {
    phrase: "sleeping better",
    goal: "sleep better",
    tips: [
      "Go to bed and wake up at the same time every day",
      "Keep your bedroom dark, quiet and cool",
      "Avoid screens for half an hour before bed",
      "Stop drinking coffee after lunch",
      "Get some daylight in the morning",
      "Write down worries before bed so your mind can rest",
    ],
    resources: ["a sleep diary to track your habits", "a relaxation or breathing app", "your doctor, if poor sleep lasts for weeks"],
    example: "tonight you could put your phone in another room and read a paper book for twenty minutes.",
    daily: "a steady seven to nine hours of sleep every night",
    stuck: "Bad nights still happen with good habits, so judge your progress over a few weeks.",
  },
  {
    phrase: "managing my time",
    goal: "manage my time better",
    tips: [
      "Write down your three most important tasks each morning",
      "Do the hardest task first, before checking messages",
      "Work in focused blocks and turn off notifications",
      "Put deadlines and appointments in one calendar",
      "Say no to tasks that don't match your priorities",
      "Review your week every Friday and plan the next one",
    ],
    resources: ["a simple to-do list app", "a paper planner", "a short book on productivity habits"],
    example: "tomorrow you could block 9 to 10 a.m. for your most important task and keep your phone in a drawer.",
    daily: "ten minutes of planning each morning",
    stuck: "Falling back into old habits is normal, so restart the next morning without guilt.",
  },
  {
    phrase: "learning Spanish",
    goal: "learn Spanish",
    tips: [
      "Learn the 500 most common words first",
      "Practice speaking out loud from the first week",
      "Listen to Spanish podcasts or music every day",
      "Use flashcards with spaced repetition for vocabulary",
      "Find a conversation partner or a tutor",
      "Watch shows in Spanish with Spanish subtitles",
    ],
    resources: ["a language learning app", "a beginner podcast in slow Spanish", "a conversation exchange website"],
    example: "today you could learn ten greetings and say them out loud while you cook.",
    daily: "20 to 30 minutes a day",
    stuck: "Every learner hits a plateau, and speaking more is usually the way through it.",
  },
  {
    phrase: "saving money",
    goal: "save more money",
    tips: [
      "Track every expense for one month",
      "Set up an automatic transfer to savings on payday",
      "Cancel subscriptions you don't use",
      "Cook at home more often",
      "Wait 48 hours before any purchase that isn't essential",
      "Build an emergency fund of three months of expenses",
    ],
    resources: ["a budgeting app", "a simple spreadsheet", "a beginner book on personal finance"],
    example: "you could move 10 percent of every paycheck into a separate savings account automatically.",
    daily: "five minutes a day of checking your spending",
    stuck: "One expensive week does not undo your progress, so just continue with the plan.",
  },
  {
    phrase: "public speaking",
    goal: "get better at public speaking",
    tips: [
      "Know your first two sentences by heart",
      "Practice out loud, not just in your head",
      "Record yourself and watch it once",
      "Use short notes with key words instead of a script",
      "Pause and breathe instead of saying um",
      "Start with small audiences, like friends or a team meeting",
    ],
    resources: ["a local speaking club", "recorded talks by good speakers", "a short course on presentation skills"],
    example: "you could prepare a two-minute talk about your favourite hobby and present it to a friend.",
    daily: "15 minutes of practice a day",
    stuck: "Nerves never fully go away, even for experienced speakers, but they get much smaller.",
  },
  {
    phrase: "preparing for a job interview",
    goal: "prepare for my job interview",
    tips: [
      "Research the company and the role",
      "Prepare three stories that show your skills",
      "Practice answering common questions out loud",
      "Prepare two or three questions to ask the interviewer",
      "Plan your route and outfit the day before",
      "Send a short thank-you note after the interview",
    ],
    resources: ["the company's website and recent news", "lists of common interview questions", "a friend for a mock interview"],
    example: "for a question about teamwork, you could describe a project, your role, what you did and the result.",
    daily: "an hour a day in the week before",
    stuck: "If a practice answer feels weak, that is exactly why practice is useful.",
  },
  {
    phrase: "growing vegetables",
    goal: "grow my own vegetables",
    tips: [
      "Start small with one bed or a few pots",
      "Pick easy crops like lettuce, radishes, beans and tomatoes",
      "Choose a spot with at least six hours of sun",
      "Water deeply a few times a week rather than a little every day",
      "Add compost to your soil before planting",
      "Check your plants every day for pests",
    ],
    resources: ["a local garden center", "a beginner gardening book", "a community garden group"],
    example: "you could sow radish seeds in a pot this weekend, and they can be ready in about four weeks.",
    daily: "10 to 15 minutes a day",
    stuck: "Some plants will fail, and every gardener learns from those.",
  },
  {
    phrase: "taking better photos",
    goal: "take better photos",
    tips: [
      "Learn the rule of thirds and place your subject off-center",
      "Shoot in soft light, like early morning or late afternoon",
      "Get closer to your subject",
      "Keep the background simple",
      "Take many shots and choose the best one",
      "Study photos you like and ask why they work",
    ],
    resources: ["a beginner photography course", "free editing apps", "a photo-sharing community for feedback"],
    example: "this week you could photograph one object in three different kinds of light and compare the results.",
    daily: "15 minutes of shooting a day",
    stuck: "If your photos feel flat, change one thing at a time: light, angle or distance.",
  },
  {
    phrase: "reading more books",
    goal: "read more books",
    tips: [
      "Read for 20 minutes at the same time every day",
      "Always carry a book or an e-reader",
      "Pick books you actually enjoy, not only ones you think you should read",
      "Stop a book that bores you and start another",
      "Join a book club for motivation",
      "Keep a list of books you want to read next",
    ],
    resources: ["your local library", "an audiobook app for commutes", "a book club in your area or online"],
    example: "you could read ten pages every night before bed, which adds up to about a book a month.",
    daily: "20 to 30 minutes a day",
    stuck: "Reading slumps are normal, and a short or light book is a good way out of one.",
  },
];

/** The kinds of follow-up questions a user asks after the first advice. */
type FollowUpKind = "time" | "stuck" | "resources" | "example" | "detail";

const GREETINGS: readonly string[] = [
  "Hi! Can you help me?", "Hello! How are you?", "Hey there!", "Hi, I have a question.", "Hello, are you there?",
  "Good morning! Can you help me with something?",
];
const GREETING_REPLIES: Readonly<Record<string, readonly string[]>> = {
  "Hello! How are you?": [
    "I'm doing well, thank you for asking! How can I help you today?",
    "I'm great, thanks! What would you like to talk about today?",
  ],
  default: [
    "[Of course|Hi there|Hello]! [I'd be happy to help|I'm happy to help|Happy to help]. What would you like [help with|to talk about|to work on] today?",
    "[Hi|Hello]! [Sure|Of course], I'm here to help. What's on your mind?",
  ],
};
const REQUESTS: readonly string[] = [
  "I need advice on {phrase}.", "I need advice on {phrase}.", "Can you give me some tips for {phrase}?",
  "I want to {goal}. Where should I start?", "How can I {goal}?", "I'm struggling with {phrase}. Any advice?",
  "What's the best way to {goal}?", "Do you have any tips for {phrase}?",
];
const REQUEST_INTROS: readonly string[] = [
  "[Great question|Good question|Happy to help|Sure]! [Here are|These are] [a few|some] [tips|suggestions|ideas] for {phrase}:",
  "[Of course|Sure]! Here is some advice on {phrase}:",
  "It's great that you want to {goal}. [Here's|Here is] [a simple plan|what I'd suggest] to get started:",
  "{phraseCap} [gets much easier|is easier] with a plan. [Try these steps|Here are some steps]:",
];
const REQUEST_CLOSERS: readonly string[] = [
  "[Would you like|Do you want] [more detail on any of these|a simple weekly plan|some resources to get started]?",
  "Which of these would you like to start with?",
  "Let me know how it goes, and feel free to ask follow-up questions!",
  "What's your current level, so I can tailor the advice?",
];
const FOLLOW_UPS: Readonly<Record<FollowUpKind, readonly string[]>> = {
  time: ["How much time should I spend on it each day?", "How long should I practice each day?", "How often should I work on it?"],
  stuck: ["What if I get stuck?", "What should I do if I lose motivation?", "What if it gets too hard?"],
  resources: ["Can you recommend any resources?", "Are there any good books or websites?", "Where can I learn more?"],
  example: ["Can you give me an example?", "What would a first step look like?", "Can you show me an example to start with?"],
  detail: ["Can you tell me more about the first tip?", "Can you explain the first one in more detail?"],
};
const STUCK_STEPS: readonly string[] = [
  "Break the problem into smaller steps",
  "Take a short break and come back with fresh eyes",
  "Ask for help in a community or from a friend",
  "Go back to an easier exercise and build up again",
  "Write down exactly what is confusing you",
  "Set a small goal for the next session",
];
const CLOSINGS: readonly string[] = [
  "Thank you for the suggestions!", "Thanks, that's really helpful.", "Great, I'll try that. Thanks!",
  "Thanks! That gives me a good place to start.", "Thank you so much!",
];
const CLOSING_REPLIES: readonly string[] = [
  "You're [very |]welcome! [Good luck with|Enjoy] {phrase}[!|.] [Feel free to come back if you have more questions.|Let me know how it goes!|I'm here if you need anything else.]",
  "[Glad I could help|My pleasure]! [Have fun|Good luck] with {phrase}, and feel free to ask if anything comes up.",
];

const CURT: readonly string[] = [
  "Just practice.", "Look it up.", "Read a book.", "Just do it.", "Try harder.", "Watch a video, lol.",
  "Not hard.", "You'll figure it out.", "Whatever works for you.",
];
const UNSAFE: readonly string[] = [
  "That's a stupid question. Just google it, you are stupid if you can't.",
  "Honestly, you're an idiot if you need help with this.",
  "Shut up and figure it out yourself.",
  "You are pathetic, everyone knows how to do this.",
];

/** Picks the follow-ups a conversation will have (distinct kinds). */
function followUpKinds(rng: Rng, count: number): FollowUpKind[] {
  return pickDistinct(rng, ["time", "stuck", "resources", "example", "detail"] as const, count);
}

/** The good reply to a follow-up question. */
function goodFollowUp(rng: Rng, kind: FollowUpKind, topic: HelpTopic, listed: readonly string[]): string {
  const slots = { phrase: topic.phrase, daily: topic.daily };
  switch (kind) {
    case "time": {
      const intro = expand(rng, "[Good question|That's a great question]! For {phrase}, {daily} is [a good start|enough to make steady progress]. [Regular time matters more than long sessions|Short, regular sessions beat one long session a week].", slots);
      const extra = pickDistinct(rng, topic.tips, 2).map(lowerFirst);
      return `${intro} For example, you could:\n${bulletList(extra)}\n${expand(rng, "Would you like help [making|planning] a weekly schedule?")}`;
    }
    case "stuck": {
      const steps = pickDistinct(rng, STUCK_STEPS, 3);
      return `${expand(rng, "[Getting stuck|Feeling stuck] is completely normal.")} ${topic.stuck} ${expand(rng, "[A few things that help|Here's what helps]:")}\n${numberedList(steps)}\n${expand(rng, "[What part feels the hardest for you right now?|Which of these could you try next time?]")}`;
    }
    case "resources": {
      const items = pickDistinct(rng, topic.resources, 3);
      return `${expand(rng, "[Sure|Of course]! Here are some [good|helpful] resources for {phrase}:", slots)}\n${bulletList(items.map(capitalize))}\n${expand(rng, "[Start with the first one|Pick one and stick with it for a few weeks]. Would you like [more suggestions|tips on how to use them]?")}`;
    }
    case "example":
      return expand(rng, "[Of course|Sure]! For example, {example} [Try that this week and let me know how it goes.|Would you like another example?]", { example: topic.example });
    case "detail":
      return expand(
        rng,
        "[Sure|Of course]! The first tip was to {tip}. [This works because|It helps because] small, steady steps build [skill|good habits] over time. [Start|Begin] with [ten|fifteen] minutes, then add a little more each week. Would you like [another example|more tips]?",
        { tip: lowerFirst(listed[0]) },
      );
  }
}

function lowerFirst(text: string): string {
  return /^[A-Z][a-z]/.test(text) ? text[0].toLowerCase() + text.slice(1) : text;
}

/** One general-help conversation of the given quality. */
export function generalDialogue(rng: Rng, quality: Quality): DomainDialogue {
  const prompt = pickSystemPrompt(rng, "general");
  const topic = pick(rng, TOPICS);
  const plan = new ReplyPlan(rng, quality);
  const ctx: StyleContext = { topic: topic.phrase, curt: CURT, unsafe: UNSAFE };
  const slots = { phrase: topic.phrase, goal: topic.goal, phraseCap: capitalize(topic.phrase) };

  // 2-4 user turns: [greeting] request [follow-ups] [thanks].
  const greet = chance(rng, 0.4);
  let thank = chance(rng, 0.6);
  const followUps = followUpKinds(rng, intBetween(rng, 0, 2));
  while ((greet ? 1 : 0) + 1 + followUps.length + (thank ? 1 : 0) > 4) followUps.pop();
  if ((greet ? 1 : 0) + 1 + followUps.length + (thank ? 1 : 0) < 2) thank = true;

  const messages: CorpusMessage[] = [];
  const say = (good: () => string) => messages.push(replyMessage(rng, plan.next(), ctx, good));
  if (greet) {
    const greeting = pick(rng, GREETINGS);
    messages.push(userMessage(greeting));
    say(() => expandOne(rng, GREETING_REPLIES[greeting] ?? GREETING_REPLIES.default));
  }
  messages.push(userMessage(expandOne(rng, REQUESTS, slots)));
  const listed = pickDistinct(rng, topic.tips, intBetween(rng, 3, 4));
  say(() => `${expandOne(rng, REQUEST_INTROS, slots)}\n${numberedList(listed)}\n${expandOne(rng, REQUEST_CLOSERS)}`);
  for (const kind of followUps) {
    messages.push(userMessage(pick(rng, FOLLOW_UPS[kind])));
    say(() => goodFollowUp(rng, kind, topic, listed));
  }
  if (thank) {
    messages.push(userMessage(pick(rng, CLOSINGS)));
    say(() => expandOne(rng, CLOSING_REPLIES, slots));
  }
  return { systemPrompt: prompt.text, messages, meta: { systemPrompt: prompt.name, topic: topic.phrase, followUps } };
}
