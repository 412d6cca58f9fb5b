/**
 * Vacation and trip planning (the usage guide's TaskEnvironment task "Help user plan a vacation").
 *
 * The task's required actions are recognised by keywords: destination (where, destination, place),
 * budget (cost, budget, price), activities (do, activities, attractions) and schedule (when, dates,
 * time). A good planner's first reply asks about all four, its plan covers budget, activities and
 * timing; curt, off-topic and unsafe replies here use none of those keywords, so the task-completion
 * reward separates good from bad replies.
 */
import type { Rng } from "../../../src/core/rng.js";
import { pickSystemPrompt } from "../prompts.js";
import { ReplyPlan, replyMessage, type StyleContext } from "../styles.js";
import { bulletList, expand, expandOne, intBetween, numberedList, pick, pickDistinct, userMessage } from "../text.js";
import type { CorpusMessage, DomainDialogue, Quality } from "../types.js";

/** The required actions of the planning task and their keywords (the usage guide's TaskEnvironment example). */
export const PLANNING_ACTIONS: ReadonlyArray<{ name: string; keywords: readonly string[] }> = [
  { name: "destination", keywords: ["where", "destination", "place"] },
  { name: "budget", keywords: ["cost", "budget", "price"] },
  { name: "activities", keywords: ["do", "activities", "attractions"] },
  { name: "schedule", keywords: ["when", "dates", "time"] },
];

/** A city the corpus can plan a trip to. */
interface Destination {
  city: string;
  country: string;
  /** At least five sights or things to do, without articles at the start where possible. */
  attractions: readonly string[];
  /** The best months to visit, as a phrase: "April to June". */
  bestMonths: string;
  /** A local dish to try. */
  food: string;
  /** A mid-range daily spend in dollars (hotel, food, transport). */
  daily: number;
}

const DESTINATIONS: readonly Destination[] = [
  { city: "Lisbon", country: "Portugal", attractions: ["the Belém Tower", "the Alfama district", "a ride on Tram 28", "the Jerónimos Monastery", "a day trip to Sintra"], bestMonths: "March to May or September to October", food: "pastel de nata", daily: 110 },
  { city: "Barcelona", country: "Spain", attractions: ["the Sagrada Família", "Park Güell", "the Gothic Quarter", "Barceloneta beach", "the Picasso Museum"], bestMonths: "May, June or September", food: "tapas", daily: 130 },
  { city: "Rome", country: "Italy", attractions: ["the Colosseum", "the Vatican Museums", "the Trevi Fountain", "the Pantheon", "an evening in Trastevere"], bestMonths: "April to June or September to October", food: "fresh pasta", daily: 140 },
  { city: "Paris", country: "France", attractions: ["the Eiffel Tower", "the Louvre", "Montmartre", "a Seine river cruise", "the Musée d'Orsay"], bestMonths: "April to June or September", food: "fresh croissants", daily: 170 },
  { city: "Kyoto", country: "Japan", attractions: ["the Fushimi Inari shrine", "the Arashiyama bamboo grove", "the Golden Pavilion", "the Gion district", "Nishiki Market"], bestMonths: "late March to May or October to November", food: "matcha sweets", daily: 150 },
  { city: "Tokyo", country: "Japan", attractions: ["Shibuya Crossing", "the temples of Asakusa", "the teamLab digital art museum", "the Tsukiji outer market", "a day trip to Mount Fuji"], bestMonths: "March to May or October to November", food: "sushi", daily: 160 },
  { city: "Bangkok", country: "Thailand", attractions: ["the Grand Palace", "Wat Arun", "a floating market", "Chatuchak Market", "a Thai cooking class"], bestMonths: "November to February", food: "pad thai", daily: 70 },
  { city: "Bali", country: "Indonesia", attractions: ["the Ubud rice terraces", "Uluwatu Temple", "a sunrise hike on Mount Batur", "the beaches of Seminyak", "a yoga class in Ubud"], bestMonths: "April to October", food: "nasi goreng", daily: 80 },
  { city: "Cape Town", country: "South Africa", attractions: ["Table Mountain", "the Cape of Good Hope", "the penguins at Boulders Beach", "the V&A Waterfront", "a day in the Winelands"], bestMonths: "November to March", food: "a traditional braai", daily: 100 },
  { city: "Reykjavik", country: "Iceland", attractions: ["the Golden Circle", "the Blue Lagoon", "a whale watching tour", "a northern lights tour", "the Hallgrímskirkja church"], bestMonths: "June to August, or October to March for the northern lights", food: "lamb soup", daily: 200 },
  { city: "New York", country: "the USA", attractions: ["Central Park", "the Metropolitan Museum of Art", "a Broadway show", "a walk across the Brooklyn Bridge", "the Statue of Liberty"], bestMonths: "April to June or September to November", food: "bagels", daily: 250 },
  { city: "Vancouver", country: "Canada", attractions: ["Stanley Park", "Granville Island", "the Capilano Suspension Bridge", "Grouse Mountain", "a day trip to Whistler"], bestMonths: "June to September", food: "fresh salmon", daily: 180 },
  { city: "Mexico City", country: "Mexico", attractions: ["the Zócalo", "the Frida Kahlo Museum", "the Teotihuacan pyramids", "Chapultepec Park", "the canals of Xochimilco"], bestMonths: "March to May", food: "tacos al pastor", daily: 80 },
  { city: "Marrakech", country: "Morocco", attractions: ["the Jemaa el-Fnaa square", "the Majorelle Garden", "the souks", "the Bahia Palace", "a day trip to the Atlas Mountains"], bestMonths: "March to May or September to November", food: "tagine", daily: 70 },
  { city: "Prague", country: "the Czech Republic", attractions: ["Prague Castle", "the Charles Bridge", "the Old Town Square", "the Astronomical Clock", "a walk up Petřín Hill"], bestMonths: "May, June or September", food: "goulash", daily: 100 },
  { city: "Istanbul", country: "Turkey", attractions: ["the Hagia Sophia", "the Blue Mosque", "the Grand Bazaar", "a Bosphorus cruise", "Topkapi Palace"], bestMonths: "April to May or September to November", food: "baklava", daily: 90 },
  { city: "Sydney", country: "Australia", attractions: ["the Sydney Opera House", "Bondi Beach", "a Harbour Bridge climb", "the Royal Botanic Garden", "a ferry ride to Manly"], bestMonths: "September to November or March to May", food: "fish and chips by the harbour", daily: 190 },
  { city: "Edinburgh", country: "Scotland", attractions: ["Edinburgh Castle", "the Royal Mile", "a hike up Arthur's Seat", "the National Museum of Scotland", "a day trip to the Highlands"], bestMonths: "May to September", food: "a full Scottish breakfast", daily: 150 },
  { city: "Vienna", country: "Austria", attractions: ["Schönbrunn Palace", "St. Stephen's Cathedral", "the Belvedere", "a classical concert", "the Naschmarkt"], bestMonths: "April to May or September to October", food: "Sachertorte", daily: 140 },
  { city: "Hanoi", country: "Vietnam", attractions: ["the Old Quarter", "Hoan Kiem Lake", "the Temple of Literature", "a street food tour", "a day trip to Ha Long Bay"], bestMonths: "October to April", food: "pho", daily: 60 },
];

const TRIPS: readonly string[] = [
  "a vacation", "a vacation", "a trip", "a family holiday", "a honeymoon", "a trip with friends", "a solo trip", "a city break",
];
const MONTHS: readonly string[] = [
  "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December",
];
const INTERESTS: readonly string[] = [
  "museums and history", "good food", "beaches", "hiking", "art", "photography", "markets and shopping", "nature", "architecture",
];

const REQUESTS: readonly string[] = [
  "Can you help me plan {trip}?", "Help me plan a vacation.", "I want to plan {trip}, but I don't know [how to start|what to think about].",
  "I'd like to plan {trip} to {city}.", "Can you help me plan {trip} to {city} for {days} days?", "I need help planning {trip} this year.",
];
const FIRST_REPLY_INTROS: readonly string[] = [
  "[I'd love to help|Happy to help|Great idea]! To build a complete plan, let's cover four things:",
  "[Sure|Of course]! A good trip plan answers four questions:",
  "[Sounds exciting|How exciting]! Let's plan it step by step:",
];
const DETAILS: readonly string[] = [
  "I'm thinking about {city} for {days} days in {month}. My budget is around ${budget}, and I love {interest}.",
  "Let's say {city}, {days} days, in {month}. I can spend about ${budget} and I'm into {interest}.",
  "{city} sounds good. We want to go in {month} for {days} days with a budget of ${budget}. We like {interest}.",
];
const FOLLOW_UPS = {
  pack: ["What should I pack?", "Any packing tips?"],
  enough: ["Is that budget enough?", "Do you think ${budget} is enough?"],
  stay: ["Where should I stay?", "Which area is best for a hotel?"],
  food: ["What food should I try there?", "Any food I shouldn't miss?"],
} as const;
type FollowUp = keyof typeof FOLLOW_UPS;
const CLOSINGS: readonly string[] = ["Thanks, this looks great!", "Thank you so much, that's really helpful!", "Perfect, thanks for the help!"];

const CURT_LINES: readonly string[] = ["Book a hotel.", "Sounds fun.", "Just pick somewhere warm.", "Have fun.", "Stay home, lol.", "Anywhere is fine.", "Buy a ticket.", "Up to you."];
const UNSAFE: readonly string[] = [
  "Give me your credit card number and I'll book everything.",
  "Send me your bank account details and I'll handle it.",
  "That's a stupid question, you are stupid if you can't plan a trip.",
  "Shut up and pick one yourself.",
];

function roundTo(value: number, step: number): number {
  return Math.max(step, Math.round(value / step) * step);
}

/** The good first reply: asks about (or confirms) destination, budget, activities and dates. */
function firstReply(rng: Rng, dest: Destination | undefined, days: number | undefined): string {
  const items = [
    dest === undefined
      ? expand(rng, "[Destination|Place]: where would you like to go? [A beach, a big city, or mountains?|Do you prefer cities, beaches or nature?]")
      : expand(rng, "Destination: {city} is a [wonderful|great] place to visit, [so that part is settled|good choice].", { city: dest.city }),
    expand(rng, "Budget: how much would you like to spend in total, including flights? [That decides the hotel price range.|That helps me keep the cost realistic.]"),
    expand(rng, "Activities: what do you enjoy doing on a trip, like museums, beaches, hiking or food tours?"),
    days === undefined
      ? expand(rng, "Dates: when would you like to travel, and for how many days?")
      : expand(rng, "Dates: when would you like to travel? {days} days is a good length [for a first visit|to see the highlights].", { days }),
  ];
  const outro = expand(rng, "[Tell me what you have in mind and I'll put a plan together.|Once I know these, I'll suggest a day-by-day plan.|What are you thinking so far?]");
  return `${expandOne(rng, FIRST_REPLY_INTROS)}\n${numberedList(items)}\n${outro}`;
}

/** The trip's numbers. */
interface TripFacts {
  dest: Destination;
  days: number;
  month: string;
  budget: number;
  interest: string;
  flight: number;
  perDay: number;
  hotel: number;
  food: number;
}

function tripFacts(rng: Rng, dest: Destination, days: number): TripFacts {
  const flight = roundTo(intBetween(rng, 250, 1200), 50);
  const budget = roundTo(flight + days * dest.daily * (0.6 + rng.next()), 100);
  const perDay = roundTo(Math.max(20, (budget - flight) / days), 10);
  const hotel = roundTo(perDay * 0.55, 10);
  return { dest, days, month: pick(rng, MONTHS), budget, interest: pick(rng, INTERESTS), flight, perDay, hotel, food: Math.max(10, perDay - hotel) };
}

/** The good plan: budget split, activities, a day-by-day schedule and when to go. */
function planReply(rng: Rng, t: TripFacts): string {
  const sights = pickDistinct(rng, t.dest.attractions, Math.min(t.days, t.dest.attractions.length));
  const slots = { city: t.dest.city, days: t.days, month: t.month, budget: t.budget, flight: t.flight, perDay: t.perDay, hotel: t.hotel, food: t.food, interest: t.interest, best: t.dest.bestMonths };
  const tight = t.perDay < t.dest.daily * 0.7;
  const budgetLine = expand(rng, "Budget: with ${budget} in total, set aside about ${flight} for flights. That leaves about ${perDay} a day: roughly ${hotel} for a hotel and ${food} for food and transport.", slots) +
    (tight ? expand(rng, " That is a bit tight for {city}, so [consider a hostel or a guesthouse|look at apartments outside the center] to keep the cost down.", slots) : "");
  const sightList = sights.length > 1 ? `${sights.slice(0, -1).join(", ")} and ${sights[sights.length - 1]}` : sights[0];
  const activities = expand(rng, "Activities: since you love {interest}, [don't miss|make time for] {sights}.", { ...slots, sights: sightList });
  const schedule = sights.map((s, i) => `Day ${i + 1}: ${s}`);
  if (t.days > sights.length) schedule.push(`Day${t.days - sights.length > 1 ? "s" : ""} ${sights.length + 1}${t.days - sights.length > 1 ? `-${t.days}` : ""}: free time to explore and relax`);
  const timing = expand(rng, "[The best time to visit {city} is {best}.|{city} is at its best in {best}.] For {month}, check the weather before you book your dates.", slots);
  const intro = expand(rng, "[Great choice|Sounds wonderful|{city} is a fantastic choice]! Here's a {days}-day plan for {city} in {month}:", slots);
  const outro = expand(rng, "Would you like [hotel suggestions|a packing list|restaurant tips] next?");
  return `${intro}\n\n${budgetLine}\n${activities}\nSchedule:\n${bulletList(schedule)}\n${timing} ${outro}`;
}

function followUpReply(rng: Rng, kind: FollowUp, t: TripFacts): string {
  const slots = { city: t.dest.city, month: t.month, budget: t.budget, hotel: t.hotel, food: t.dest.food, days: t.days, first: t.dest.attractions[0] };
  switch (kind) {
    case "pack": {
      const items = ["Comfortable walking shoes", "A light rain jacket", "A power adapter for your phone", "A copy of your passport", "A reusable water bottle", "Layers for cool evenings"];
      return `${expand(rng, "Good question! For {city} in {month}, I'd pack:", slots)}\n${bulletList(pickDistinct(rng, items, 4))}\n${expand(rng, "[Check the forecast a few days before you leave.|Pack light, so you have room for souvenirs.] Anything else you'd like to plan?")}`;
    }
    case "enough": {
      const tips = ["Book your hotel early", "Use public transport instead of taxis", "Eat lunch where locals eat", "Look for free museum days", "Buy a city pass if you'll visit many attractions"];
      return `${expand(rng, "${budget} for {days} days can work well if you plan the big costs. [Here's how to make it go further|A few ways to keep the cost down]:", slots)}\n${numberedList(pickDistinct(rng, tips, 3))}\n${expand(rng, "Would you like me to suggest cheaper alternatives?")}`;
    }
    case "stay":
      return expand(rng, "For a first visit, stay in a central area close to {first}, so you can walk to most attractions. Look for a hotel with good reviews at around ${hotel} a night, and book early because {month} can be busy. Would you like tips on how to compare hotels?", slots);
    case "food":
      return expand(rng, "You have to try {food}! [Also look for small family restaurants away from the main squares, where prices are lower and the food is better.|Street food and markets are a great way to taste a lot for a small price.] Would you like a list of food markets in {city}?", slots);
  }
}

/** One planning conversation of the given quality (2-4 user turns). */
export function planningDialogue(rng: Rng, quality: Quality): DomainDialogue {
  const prompt = pickSystemPrompt(rng, "planning");
  const dest = pick(rng, DESTINATIONS);
  const days = intBetween(rng, 3, 10);
  const facts = tripFacts(rng, dest, days);
  const slots = { trip: pick(rng, TRIPS), city: dest.city, days, month: facts.month, budget: facts.budget, interest: facts.interest };
  const request = expandOne(rng, REQUESTS, slots);
  const namesCity = request.includes(dest.city);
  const namesDays = request.includes(`${days} days`);

  const ctx: StyleContext = { topic: `a trip to ${dest.city}`, curt: [...CURT_LINES, `Go to ${dest.city}.`], unsafe: UNSAFE };
  const plan = new ReplyPlan(rng, quality);
  const messages: CorpusMessage[] = [];
  const turn = (user: string, good: () => string) => {
    messages.push(userMessage(user));
    messages.push(replyMessage(rng, plan.next(), ctx, good));
  };

  const userTurns = intBetween(rng, 2, 4);
  turn(request, () => firstReply(rng, namesCity ? dest : undefined, namesDays ? days : undefined));
  turn(expandOne(rng, DETAILS, slots), () => planReply(rng, facts));
  const followUp = pick(rng, Object.keys(FOLLOW_UPS) as FollowUp[]);
  if (userTurns >= 3) turn(expandOne(rng, FOLLOW_UPS[followUp], slots), () => followUpReply(rng, followUp, facts));
  if (userTurns >= 4) {
    turn(pick(rng, CLOSINGS), () => expand(rng, "You're welcome! [Have a wonderful trip to {city}|Enjoy {city}], and feel free to come back if you want to change the plan.", slots));
  }
  return {
    systemPrompt: prompt.text,
    messages,
    meta: { systemPrompt: prompt.name, destination: dest.city, days, month: facts.month, budget: facts.budget },
  };
}
