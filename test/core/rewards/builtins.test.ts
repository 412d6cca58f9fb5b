import { describe, expect, it } from "vitest";
import { GrpoError } from "../../../src/core/errors.js";
import { CompositeReward, RewardType, evaluateReward, scoreTrajectory, type RewardContext, type RewardFunction } from "../../../src/core/reward.js";
import {
  ConcisenessReward,
  CorrectnessReward,
  EngagementReward,
  HelpfulnessReward,
  KnowledgeAssessmentReward,
  ProfessionalismReward,
  SafetyReward,
  TaskCompletionReward,
  customerServiceReward,
  extractFinalNumber,
  helpfulAgentReward,
  taskAgentReward,
  tutoringReward,
} from "../../../src/core/rewards/index.js";
import { ConversationTurn, MultiTurnTrajectory, type Role } from "../../../src/core/trajectory.js";

const turn = (role: Role, content: string) => new ConversationTurn({ role, content });

/** Alternating user/assistant turns, user first. */
function chat(...texts: string[]): ConversationTurn[] {
  return texts.map((content, i) => turn(i % 2 === 0 ? "user" : "assistant", content));
}

/** Assistant-only turns (no user message precedes them). */
function replies(...texts: string[]): ConversationTurn[] {
  return texts.map((content) => turn("assistant", content));
}

async function score(reward: RewardFunction, turns: ConversationTurn[], context?: RewardContext) {
  return evaluateReward(reward, turns, context);
}

const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(" ");

describe("HelpfulnessReward", () => {
  const h = new HelpfulnessReward({ minWords: 1 });
  const ask = "I need advice on learning Python.";

  it("relevance: sharing the user's content words beats ignoring them (exact weights)", async () => {
    // relevance 1, substance 1, structure 0, next step 0 -> (0.35 + 0.30) / 1
    const on = await score(h, chat(ask, "Python learning advice works."));
    expect(on.score).toBeCloseTo(0.65, 12);
    expect(on.breakdown.relevance).toBe(1);
    const off = await score(h, chat(ask, "Bananas are yellow fruit here."));
    expect(off.score).toBeCloseTo(0.3, 12);
    // One shared word of three: relevance 1/3.
    expect((await score(h, chat(ask, "Python is fun."))).breakdown.relevance).toBeCloseTo(1 / 3, 12);
  });

  it("relevance does not apply without a user message: the other weights are renormalised", async () => {
    const r = await score(h, replies("Hello there friend."));
    expect(r.score).toBeCloseTo(0.3 / 0.65, 12);
    expect(r.breakdown).not.toHaveProperty("relevance");
  });

  it("substance: linear below minWords, 1 inside, decaying above maxWords", async () => {
    const s = new HelpfulnessReward({ minWords: 5, maxWords: 10 });
    const sub = async (n: number) => (await score(s, replies(words(n)))).breakdown.substance;
    expect(await sub(2)).toBeCloseTo(0.4, 12);
    expect(await sub(5)).toBe(1);
    expect(await sub(10)).toBe(1);
    expect(await sub(15)).toBeCloseTo(0.5, 12);
    expect(await sub(25)).toBe(0);
  });

  it("structure: 0.5 per kind (list, steps, example), at most 1", async () => {
    const st = async (text: string) => (await score(h, replies(text))).breakdown.structure;
    expect(await st("Just one plain sentence.")).toBe(0);
    expect(await st("Options:\n- apples\n- pears")).toBe(0.5);
    expect(await st("Options:\n- apples\n- pears, for example from a market")).toBe(1);
    expect(await st("First read, then write, finally test; for example a script.")).toBe(1);
  });

  it("next step: a question or an offer earns it", async () => {
    const ns = async (text: string) => (await score(h, replies(text))).breakdown.next_step;
    expect(await ns("Here it is.")).toBe(0);
    expect(await ns("Here it is. Which part next?")).toBe(1);
    expect(await ns("Here it is. Let me know how it goes.")).toBe(1);
  });

  it("refusals are multiplied by refusalFactor and counted; empty replies score 0", async () => {
    const refusal = await score(h, chat(ask, "Sorry, I cannot help with learning Python advice."));
    expect(refusal.score).toBeCloseTo(0.65 * 0.2, 12);
    expect(refusal.breakdown.refusals).toBe(1);
    expect(refusal.metadata.refusalTurns).toEqual([0]);
    const strict = await score(new HelpfulnessReward({ minWords: 1, refusalFactor: 0 }), chat(ask, "I'm unable to assist."));
    expect(strict.score).toBe(0);
    const empty = await score(h, chat(ask, "   "));
    expect(empty.score).toBe(0);
    expect(empty.metadata.emptyTurns).toEqual([0]);
  });

  it("averages turns and reports turn_<i>; 0 with no assistant turn", async () => {
    const r = await score(h, chat(ask, "Python learning advice works.", "Thanks", "Bananas are yellow fruit here."));
    expect(r.breakdown.turn_0).toBeCloseTo(0.65, 12);
    // turn 1: the user said only "Thanks" (no content word): relevance does not apply.
    expect(r.breakdown.turn_1).toBeCloseTo(0.3 / 0.65, 12);
    expect(r.score).toBeCloseTo((0.65 + 0.3 / 0.65) / 2, 12);
    expect((await score(h, [turn("user", "hi")])).score).toBe(0);
  });

  it("rejects bad options", () => {
    expect(() => new HelpfulnessReward({ minWords: 10, maxWords: 5 })).toThrow(/HelpfulnessReward\.maxWords/);
    expect(() => new HelpfulnessReward({ minWords: 0 })).toThrow(GrpoError);
  });
});

describe("SafetyReward", () => {
  const s = new SafetyReward();

  it("a clean conversation scores 1 with no violations", async () => {
    const r = await score(s, chat("hi", "Hello! How can I help you today?"));
    expect(r).toMatchObject({ score: 1, breakdown: { turn_0: 1, violations: 0 } });
  });

  it("each category costs its penalty; metadata names the pattern", async () => {
    const insult = await score(s, chat("hi", "You are an idiot."));
    expect(insult.score).toBeCloseTo(0.7, 12);
    expect(insult.breakdown.insult).toBe(1);
    expect(insult.metadata.matches).toEqual([{ turn: 0, pattern: "insult", category: "insult", text: "You are an idiot", penalty: 0.3 }]);
    expect((await score(s, chat("hi", "I will kill you."))).score).toBeCloseTo(0.5, 12);
    expect((await score(s, chat("hi", "You should just kill yourself."))).score).toBe(0);
    expect((await score(s, chat("hi", "Please send me your password so I can log in."))).score).toBeCloseTo(0.5, 12);
    expect((await score(s, chat("hi", "Your card 4111 1111 1111 1111 is on file."))).breakdown.personal_data).toBe(1);
  });

  it("safety advice is not a violation; user turns are not judged", async () => {
    expect((await score(s, chat("hi", "Never share your password with anyone."))).score).toBe(1);
    expect((await score(s, chat("You are an idiot.", "I'm sorry you feel that way."))).score).toBe(1);
  });

  it("violations accumulate across turns and the score floors at 0", async () => {
    const two = await score(s, chat("a", "You are stupid.", "b", "Shut up."));
    expect(two.breakdown.turn_0).toBeCloseTo(0.7, 12);
    expect(two.breakdown.turn_1).toBeCloseTo(0.7, 12);
    expect(two.score).toBeCloseTo(0.4, 12);
    expect(two.breakdown.violations).toBe(2);
    const many = await score(s, chat("a", "You are stupid. Shut up. I will hurt you.", "b", "You are useless."));
    expect(many.breakdown.turn_0).toBe(0);
    expect(many.score).toBe(0);
  });

  it("custom patterns: phrases, stateless global regexes, replacing the defaults", async () => {
    const custom = new SafetyReward({
      extraPatterns: [
        { name: "competitor", category: "brand", pattern: "acme corp", penalty: 0.2 },
        { name: "digits", category: "pii", pattern: /\d{3}-\d{4}/g },
      ],
    });
    const r = await score(custom, chat("a", "Try ACME  Corp, call 555-1234.", "b", "Or call 555-9876."));
    expect(r.breakdown).toMatchObject({ brand: 1, pii: 2, turn_1: 0.5 });
    // turn 0: 1 - (0.2 + 0.5 for the unknown category "pii"); both turns: max(0, 1 - 1.2) = 0
    expect(r.breakdown.turn_0).toBeCloseTo(0.3, 12);
    expect(r.score).toBe(0);
    const none = new SafetyReward({ patterns: [] });
    expect((await score(none, chat("a", "You are an idiot."))).score).toBe(1);
    expect(() => new SafetyReward({ extraPatterns: [{ name: "insult", category: "x", pattern: "y" }] })).toThrow(/both named `insult`/);
  });
});

describe("CorrectnessReward", () => {
  it("numbers: the final answer within tolerance scores 1", async () => {
    const c = new CorrectnessReward({ groundTruth: 42 });
    expect((await score(c, chat("q", "The answer is 42."))).score).toBe(1);
    expect((await score(c, chat("q", "The answer is 41."))).score).toBe(0);
    const pi = (tolerance?: number) => new CorrectnessReward({ groundTruth: 3.14159, ...(tolerance === undefined ? {} : { tolerance }) });
    expect((await score(pi(0.01), chat("q", "About 3.14"))).score).toBe(1);
    expect((await score(pi(), chat("q", "About 3.14"))).score).toBe(0);
  });

  it("the answer marker beats later numbers; otherwise the last number counts", async () => {
    expect(extractFinalNumber("10 + 32 = 42, so the answer is 42. Any 2 questions?")).toBe(42);
    expect(extractFinalNumber("I think 7, no wait, 8")).toBe(8);
    expect(extractFinalNumber("Total: 1,234.5 dollars")).toBe(1234.5);
    expect(extractFinalNumber("no digits")).toBeUndefined();
    const c = new CorrectnessReward({ groundTruth: "1234" });
    expect((await score(c, chat("q", "It costs 1,234 in total."))).score).toBe(1);
  });

  it("text: normalised whole-word containment, case-insensitive by default", async () => {
    const c = new CorrectnessReward({ groundTruth: "Paris" });
    expect((await score(c, chat("q", "The capital is paris!"))).score).toBe(1);
    expect((await score(c, chat("q", "Parisian food is nice."))).score).toBe(0);
    const cs = new CorrectnessReward({ groundTruth: "Paris", caseSensitive: true });
    expect((await score(cs, chat("q", "the capital is paris"))).score).toBe(0);
    const re = new CorrectnessReward({ groundTruth: /\bblue\b/i });
    expect((await score(re, chat("q", "The sky is Blue."))).score).toBe(1);
  });

  it("lists score the fraction of items found", async () => {
    const c = new CorrectnessReward({ groundTruth: ["Paris", 42, "Rome"] });
    const r = await score(c, chat("q", "Paris, and 42 of them."));
    expect(r.score).toBeCloseTo(2 / 3, 12);
    expect(r.metadata.found).toEqual([true, true, false]);
  });

  it("reads the ground truth from the context; the options win", async () => {
    const c = new CorrectnessReward();
    const conv = chat("q", "It is 7.");
    expect((await score(c, conv, { groundTruth: 7 })).metadata.source).toBe("context.groundTruth");
    expect((await score(c, conv, { expectedAnswer: "7" })).score).toBe(1);
    expect((await score(c, conv, { expected_answer: 8 })).score).toBe(0);
    expect((await score(new CorrectnessReward({ groundTruth: 8 }), conv, { groundTruth: 7 })).score).toBe(0);
    await expect(score(c, conv, { groundTruth: { a: 1 } })).rejects.toThrow(/context\.groundTruth/);
  });

  it("is sparse: only the answering (last non-empty) assistant turn holds the score", async () => {
    const c = new CorrectnessReward({ groundTruth: 4 });
    expect(c.rewardType).toBe(RewardType.SPARSE);
    const conv = [...chat("2+2?", "Let me compute.", "ok", "The answer is 4."), turn("assistant", "")];
    const r = await score(c, conv);
    expect(r.breakdown).toMatchObject({ turn_0: 0, turn_1: 1, turn_2: 0, correct: 1, answer_found: 1 });
  });
});

describe("ConcisenessReward", () => {
  const c = new ConcisenessReward({ optimalLength: 10, tolerance: 0.5 });

  it("follows exp(-((n - L) / (tolerance L))^2) per turn", async () => {
    expect((await score(c, replies(words(10)))).score).toBe(1);
    expect((await score(c, replies(words(15)))).score).toBeCloseTo(Math.exp(-1), 12);
    expect((await score(c, replies(words(20)))).score).toBeCloseTo(Math.exp(-4), 12);
    expect((await score(c, replies(""))).score).toBe(0);
  });

  it("averages turns and reports word counts", async () => {
    const r = await score(c, replies(words(10), words(5)));
    expect(r.score).toBeCloseTo((1 + Math.exp(-1)) / 2, 12);
    expect(r.breakdown.mean_words).toBe(7.5);
    expect(r.metadata.wordCounts).toEqual([10, 5]);
  });

  it("uses 50 words and tolerance 0.5 by default", async () => {
    expect((await score(new ConcisenessReward(), replies(words(75)))).score).toBeCloseTo(Math.exp(-1), 12);
  });
});

describe("EngagementReward", () => {
  const e = new EngagementReward();

  it("questions and second person (first turn, no user message: 0.3 and 0.2 renormalised)", async () => {
    expect((await score(e, replies("What do you think?"))).score).toBe(1);
    expect((await score(e, replies("The sky is blue."))).score).toBe(0);
    expect((await score(e, replies("Your sky is blue."))).score).toBeCloseTo(0.4, 12);
  });

  it("acknowledging the user's words", async () => {
    const ack = await score(e, chat("I love hiking mountains", "Hiking mountains is wonderful."));
    expect(ack.breakdown.acknowledgement).toBe(1);
    expect(ack.score).toBeCloseTo(0.3 / 0.8, 12);
    const half = await score(e, chat("I love hiking mountains", "Hiking is wonderful."));
    expect(half.breakdown.acknowledgement).toBe(0.5);
    const phrase = await score(e, chat("Why is the sky blue?", "Great question."));
    expect(phrase.breakdown.acknowledgement).toBe(1);
    expect((await score(e, chat("I love hiking mountains", "Cool."))).score).toBe(0);
  });

  it("variety of openings, and repeated replies score 0", async () => {
    const same = await score(e, replies("Sure thing, here it is.", "Sure thing, here we go."));
    const varied = await score(e, replies("Sure thing, here it is.", "Another idea: here we go."));
    expect(same.breakdown.variety).toBe(0);
    expect(varied.breakdown.variety).toBe(1);
    expect(varied.score).toBeGreaterThan(same.score);
    const repeat = await score(e, replies("What do you think?", "what do you THINK"));
    expect(repeat.breakdown.turn_1).toBe(0);
    expect(repeat.breakdown.repeats).toBe(1);
  });
});

describe("TaskCompletionReward", () => {
  // The usage guide's vacation task.
  const vacation = [
    { name: "destination", keywords: ["where", "destination", "place"] },
    { name: "budget", keywords: ["cost", "budget", "price"] },
    { name: "activities", keywords: ["do", "activities", "attractions"] },
    { name: "schedule", keywords: ["when", "dates", "time"] },
  ];
  const conv = chat("Plan my vacation", "Which destination do you have in mind?", "Lisbon", "What budget works?");
  // "do" (activities) appears in turn 0 too: destination + activities at turn 0, budget at turn 1.

  it("detects actions by keywords and credits the first turn mentioning them (sums to the score)", async () => {
    const r = await score(new TaskCompletionReward({ requiredActions: vacation }), conv);
    expect(r.score).toBe(0.75);
    expect(r.breakdown).toMatchObject({
      turn_0: 0.5, turn_1: 0.25,
      "action/destination": 1, "action/activities": 1, "action/budget": 1, "action/schedule": 0,
    });
    expect(r.metadata).toMatchObject({ source: "keywords", completed: ["destination", "budget", "activities"] });
  });

  it("the context's completedActions is authoritative; unmentioned ones credit the last turn", async () => {
    const t = new TaskCompletionReward();
    const r = await score(t, conv, { requiredActions: vacation, completedActions: ["budget", "schedule"] });
    expect(r.score).toBe(0.5);
    expect(r.breakdown).toMatchObject({ turn_0: 0, turn_1: 0.5, "action/destination": 0, "action/schedule": 1 });
    expect(r.metadata.source).toBe("context");
    // snake_case keys from Python-style scenarios, plain names used as keywords.
    const snake = await score(t, chat("book", "Your hotel booking is done."), { required_actions: ["hotel_booking", "car"] });
    expect(snake.score).toBe(0.5);
  });

  it("takes keywords for bare names from context.task (a TaskEnvironment's context)", async () => {
    const context = { task: { requiredActions: vacation }, requiredActions: ["destination", "budget"], completedActions: ["destination", "budget"] };
    const r = await score(new TaskCompletionReward(), conv, context);
    expect(r.score).toBe(1);
    // "destination" is credited to turn 0 where its keyword appears, "budget" to turn 1.
    expect(r.metadata.creditedTurn).toEqual({ destination: 0, budget: 1 });
    const noKeywords = await score(new TaskCompletionReward(), chat("x", "Which destination?", "y", "What is the price?"), {
      requiredActions: ["destination", "budget"], completedActions: ["destination", "budget"] });
    // Without task keywords "budget" is only its name: not in any turn, so credited to the last.
    expect(noKeywords.metadata.creditedTurn).toEqual({ destination: 0, budget: 1 });
    const keywordOnly = await score(new TaskCompletionReward(), chat("x", "What is the price?", "y", "ok"), {
      task: { requiredActions: vacation }, requiredActions: ["budget"], completedActions: ["budget"] });
    expect(keywordOnly.metadata.creditedTurn).toEqual({ budget: 0 });
  });

  it("is cumulative and errors when it cannot know the required actions", async () => {
    expect(new TaskCompletionReward().rewardType).toBe(RewardType.CUMULATIVE);
    await expect(score(new TaskCompletionReward(), conv, {})).rejects.toThrow(/`requiredActions` in the options, or `requiredActions` in the task\/scenario context/);
    await expect(score(new TaskCompletionReward(), conv, { requiredActions: ["a", "a"] })).rejects.toThrow(/`a` is listed twice/);
  });
});

describe("ProfessionalismReward", () => {
  const p = new ProfessionalismReward();

  it("0.4 politeness + 0.3 empathy + 0.3 no-slang", async () => {
    expect((await score(p, replies("Thank you for waiting, I'm sorry for the trouble."))).score).toBeCloseTo(1, 12);
    expect((await score(p, replies("lol gonna fix it"))).score).toBe(0);
    expect((await score(p, replies("Thanks, gonna check."))).score).toBeCloseTo(0.4 + 0.3 * 0.5, 12);
    expect((await score(p, replies("We will check."))).score).toBeCloseTo(0.3, 12);
  });

  it("shouting counts like slang", async () => {
    const r = await score(p, replies("THIS WILL NOT HAPPEN again."));
    expect(r.breakdown.no_slang).toBe(0.5);
    expect(r.metadata.slang).toEqual([["(shouting)"]]);
  });
});

describe("KnowledgeAssessmentReward", () => {
  const k = new KnowledgeAssessmentReward();

  it("a hinting, checking, correcting reply scores 1; a bare answer 0", async () => {
    const good = await score(k, chat("Is it 5?", "Not quite. Think about what happens when you add 2 and 2. What do you get?"));
    expect(good.score).toBe(1);
    const bare = await score(k, chat("What is 2+2?", "The answer is 4."));
    expect(bare.score).toBe(0);
    expect(bare.breakdown.bare_answers).toBe(1);
  });

  it("a question without a checking phrase earns half; feedback applies only after a student message", async () => {
    expect((await score(k, chat("ok", "Is that clear?"))).score).toBeCloseTo(0.35 * 0.5, 12);
    expect((await score(k, replies("Consider the number line. Can you find 2+2?"))).score).toBeCloseTo(1, 12);
    expect((await score(k, replies("Consider the number line."))).score).toBeCloseTo(0.5, 12);
  });
});

describe("presets", () => {
  it("have the documented components, weights and names", () => {
    const table = (c: CompositeReward) => Object.fromEntries(c.rewards.map((r) => [r.name, r.weight]));
    expect(helpfulAgentReward().name).toBe("helpful_agent");
    expect(table(helpfulAgentReward())).toEqual({ helpfulness: 0.4, safety: 0.3, engagement: 0.3 });
    expect(table(customerServiceReward())).toEqual({ helpfulness: 0.3, professionalism: 0.3, safety: 0.2, engagement: 0.2 });
    expect(table(taskAgentReward())).toEqual({ task_completion: 0.6, helpfulness: 0.2, conciseness: 0.2 });
    expect(table(tutoringReward())).toEqual({ knowledge_assessment: 0.4, helpfulness: 0.3, engagement: 0.2, safety: 0.1 });
    expect(tutoringReward({ name: "tutor", weight: 2 })).toMatchObject({ name: "tutor", weight: 2 });
  });

  it("score a good customer-service reply above a rude one, and fill per-turn rewards", async () => {
    const cs = customerServiceReward();
    const ask = "My router keeps dropping the connection.";
    const good = new MultiTurnTrajectory({ scenarioId: "cs", turns: chat(ask,
      "I'm sorry about the dropped connection, that sounds frustrating. Please try these steps:\n1. Restart the router\n2. Update its firmware\nDoes the connection hold after that?") });
    const rude = new MultiTurnTrajectory({ scenarioId: "cs", turns: chat(ask, "lol dunno, you are stupid") });
    await scoreTrajectory(cs, good);
    await scoreTrajectory(cs, rude);
    expect(good.totalReward).toBeGreaterThan(0.8);
    expect(good.totalReward - rude.totalReward).toBeGreaterThan(0.5);
    expect(good.turnRewards).toHaveLength(1);
    expect(good.rewardBreakdown["professionalism/turn_0"]).toBe(1);
  });

  it("taskAgentReward passes requiredActions through", async () => {
    const r = await score(taskAgentReward({ requiredActions: ["budget"] }), chat("plan", "What is your budget?"));
    expect(r.breakdown.task_completion).toBe(1);
    expect(r.breakdown["task_completion/action/budget"]).toBe(1);
  });
});
