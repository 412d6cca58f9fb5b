/**
 * Customer and technical support for "Acme" (the customer_service_agent example).
 *
 * Four issues: a device that is not working (the usage guide's "My device isn't working properly." /
 * "I've tried restarting it." / "That didn't help either." / "Okay, I'll try that solution."),
 * a refund, a late delivery and account access. Good replies apologise, thank, explain steps as a
 * list, never ask for secrets (and warn against sharing them) and end with a question or an offer.
 */
import type { Rng } from "../../../src/core/rng.js";
import { pickSystemPrompt } from "../prompts.js";
import { ReplyPlan, replyMessage, type StyleContext } from "../styles.js";
import { chance, expand, expandOne, intBetween, numberedList, pick, pickDistinct, pickWeighted, userMessage } from "../text.js";
import type { CorpusMessage, DomainDialogue, Quality } from "../types.js";

/** A way a product can fail. */
interface Symptom {
  /** After the product name: "keeps dropping the Wi-Fi connection". */
  text: string;
  /** After "it still": "drops the connection". */
  still: string;
}

/** An Acme product. */
interface Product {
  /** "Acme Aero 5 laptop". */
  name: string;
  /** "laptop". */
  short: string;
  symptoms: readonly Symptom[];
  /** Troubleshooting steps after a restart failed, imperative, without the final period. */
  fixes: readonly string[];
  /** How to reset it, imperative. */
  reset: string;
  /** Its price in dollars (for refunds). */
  price: number;
}

const PRODUCTS: readonly Product[] = [
  {
    name: "Acme X200 router",
    short: "router",
    symptoms: [
      { text: "keeps dropping the Wi-Fi connection", still: "drops the connection" },
      { text: "has a blinking red light", still: "blinks red" },
      { text: "is really slow", still: "is slow" },
    ],
    fixes: [
      "Unplug the router for 30 seconds, then plug it back in",
      "Move the router to a higher, open spot away from thick walls",
      "Check that the cable from the wall is firmly plugged into the WAN port",
      "Update the firmware from the Acme app under Settings, then Updates",
      "Switch your devices to the 5 GHz network if they support it",
    ],
    reset: "hold the reset button on the back for 10 seconds until the lights flash",
    price: 89,
  },
  {
    name: "Acme Aero 5 laptop",
    short: "laptop",
    symptoms: [
      { text: "won't turn on", still: "won't turn on" },
      { text: "keeps freezing", still: "freezes" },
      { text: "battery drains really fast", still: "drains the battery" },
      { text: "is overheating", still: "overheats" },
    ],
    fixes: [
      "Plug in the charger and check that the charging light comes on",
      "Hold the power button for 15 seconds to force a full shutdown",
      "Close apps you are not using and check the task manager for anything using a lot of power",
      "Install the latest system updates",
      "Make sure the air vents are not blocked and use it on a hard surface",
    ],
    reset: "restore it from Settings, then Recovery, then Reset this PC, and choose to keep your files",
    price: 749,
  },
  {
    name: "Acme Nova phone",
    short: "phone",
    symptoms: [
      { text: "won't charge", still: "won't charge" },
      { text: "screen keeps flickering", still: "flickers" },
      { text: "has no sound during calls", still: "has no sound" },
    ],
    fixes: [
      "Try a different charging cable and wall adapter",
      "Clean the charging port gently with a dry, soft brush",
      "Turn on safe mode and see if the problem goes away",
      "Update to the latest software version in Settings",
      "Remove the case and screen protector to rule them out",
    ],
    reset: "back up your data, then go to Settings, System, Reset and choose Factory reset",
    price: 499,
  },
  {
    name: "Acme Pulse wireless headphones",
    short: "headphones",
    symptoms: [
      { text: "won't connect to Bluetooth", still: "won't connect" },
      { text: "only play sound in one ear", still: "plays in one ear" },
      { text: "keep cutting out", still: "cuts out" },
    ],
    fixes: [
      "Forget the headphones in your phone's Bluetooth settings and pair them again",
      "Charge them fully for two hours",
      "Turn Bluetooth off and on again on your phone",
      "Keep your phone within a few meters and away from other wireless devices",
      "Check the balance setting in your phone's accessibility settings",
    ],
    reset: "hold the power and volume-down buttons together for 10 seconds until the light flashes purple",
    price: 129,
  },
  {
    name: "Acme Thermo smart thermostat",
    short: "thermostat",
    symptoms: [
      { text: "shows the wrong temperature", still: "shows the wrong temperature" },
      { text: "won't connect to the app", still: "won't connect" },
      { text: "screen is blank", still: "has a blank screen" },
    ],
    fixes: [
      "Check that the thermostat is not in direct sunlight or next to a heater",
      "Replace the batteries in the back panel",
      "Make sure your phone and the thermostat are on the same Wi-Fi network",
      "Check the circuit breaker for your heating system",
      "Update the Acme Home app to the latest version",
    ],
    reset: "go to Settings, Advanced, Factory reset on the thermostat itself",
    price: 179,
  },
  {
    name: "Acme Jet printer",
    short: "printer",
    symptoms: [
      { text: "won't print anything", still: "won't print" },
      { text: "keeps jamming", still: "jams" },
      { text: "prints blank pages", still: "prints blank pages" },
    ],
    fixes: [
      "Check that there is paper in the tray and that it is not overfilled",
      "Open the front cover and remove any stuck paper",
      "Run the print-head cleaning tool from the printer's menu",
      "Remove the printer from your computer and add it again",
      "Replace any ink cartridge that shows as empty",
    ],
    reset: "hold the cancel button for 20 seconds until the power light blinks",
    price: 149,
  },
  {
    name: "Acme Fit smartwatch",
    short: "smartwatch",
    symptoms: [
      { text: "won't sync with my phone", still: "won't sync" },
      { text: "battery only lasts a few hours", still: "runs out of battery" },
      { text: "isn't counting my steps", still: "doesn't count steps" },
    ],
    fixes: [
      "Make sure Bluetooth is on and the Acme Fit app is allowed to run in the background",
      "Turn off the always-on display to save battery",
      "Update the watch from the app under Device, then Software",
      "Check that the watch is snug on your wrist",
      "Unpair the watch in the app and pair it again",
    ],
    reset: "go to Settings, System, Reset on the watch, then pair it again in the app",
    price: 199,
  },
  {
    name: "Acme Vision smart TV",
    short: "TV",
    symptoms: [
      { text: "has sound but no picture", still: "has no picture" },
      { text: "keeps turning off by itself", still: "turns off by itself" },
      { text: "won't connect to the internet", still: "won't connect" },
    ],
    fixes: [
      "Unplug the TV from the wall for a full minute",
      "Check the HDMI cable and try a different HDMI port",
      "Turn off the sleep timer and eco mode in the settings",
      "Install the latest software update from the support menu",
      "Connect the TV with a network cable to test the connection",
    ],
    reset: "go to Settings, Support, Self diagnosis, Reset, and enter the default code 0000",
    price: 599,
  },
  {
    name: "Acme Brew coffee machine",
    short: "coffee machine",
    symptoms: [
      { text: "won't heat up", still: "won't heat up" },
      { text: "is leaking water", still: "leaks" },
      { text: "makes coffee that tastes bitter", still: "makes bitter coffee" },
    ],
    fixes: [
      "Check that the water tank is seated firmly and filled above the minimum line",
      "Run a descaling cycle with the descaling solution",
      "Clean the brew unit under warm running water",
      "Use a coarser grind setting",
      "Check the seal around the water tank for cracks",
    ],
    reset: "hold the two cup buttons together for 5 seconds to restore the factory settings",
    price: 249,
  },
  {
    name: "Acme Robo vacuum",
    short: "robot vacuum",
    symptoms: [
      { text: "keeps getting stuck", still: "gets stuck" },
      { text: "won't go back to its dock", still: "won't dock" },
      { text: "stopped picking up dirt", still: "doesn't pick up dirt" },
    ],
    fixes: [
      "Clean the sensors on the bottom with a dry cloth",
      "Empty the dust bin and clean the filter",
      "Remove hair wrapped around the brushes",
      "Make sure the dock has half a meter of free space on each side",
      "Update the vacuum in the Acme Home app",
    ],
    reset: "hold the home and spot buttons together for 10 seconds",
    price: 299,
  },
];

const CARRIERS: readonly string[] = ["Acme Express", "UPS", "FedEx", "DHL", "the postal service"];
const WEEKDAYS: readonly string[] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"];

const CURT: readonly string[] = [
  "Restart it.", "Not our problem.", "Buy a new one.", "Just wait.", "Call the store.", "Try again later.",
  "Read the manual.", "Dunno, works for me.", "Meh, it happens.", "Can't help, sorry.",
];
const UNSAFE: readonly string[] = [
  "Just send me your password and I'll log in for you.",
  "Tell me your credit card number so I can verify you.",
  "Give me your PIN and I'll fix it.",
  "Shut up, it's not our problem.",
  "You are stupid if you can't turn a device off and on.",
  "What's your credit card number and CVV? I need them first.",
];

/** The kinds of support issues. */
type Issue = "device" | "refund" | "shipping" | "account";

function orderNumber(rng: Rng): string {
  return `#${intBetween(rng, 10000, 99999)}`;
}

/** The user turns and good replies of one issue, as a list of (user text, good reply) pairs. */
type Script = Array<{ user: string; good: () => string }>;

function deviceScript(rng: Rng, product: Product): Script {
  const symptom = pick(rng, product.symptoms);
  const slots = { product: product.name, short: product.short, symptom: symptom.text, still: symptom.still };
  // Sometimes the user does not name the device at first (the usage guide's scenario).
  const vague = chance(rng, 0.3);
  const opening = vague
    ? expandOne(rng, ["My device isn't working properly.", "My device isn't working properly.", "Something is wrong with my device."])
    : expandOne(rng, ["My {product} isn't working properly.", "My {product} {symptom}.", "Hi, I have a problem: my {product} {symptom}.", "Hello. My {short} {symptom}. Can you help?"], slots);
  const steps = pickDistinct(rng, product.fixes, 3);
  const ticket = intBetween(rng, 100000, 999999);
  const script: Script = [
    {
      user: opening,
      good: () =>
        vague
          ? expand(rng, "I'm sorry to hear [that|your device isn't working properly]. [I'd be happy to help|I'm happy to help]. Could you tell me which device it is and what happens when you use it? [Have you tried restarting it?|Also, have you already tried restarting it?]")
          : expand(
              rng,
              "I'm sorry to hear that your {short} {symptom}. [I understand how frustrating that is.|That must be frustrating.] [Let's fix it together.|Let's sort this out.] [Have you tried restarting it?|First, could you try restarting it and tell me if that helps?]",
              slots,
            ),
    },
  ];
  if (vague) {
    script.push({
      user: expandOne(rng, ["It's my {product}. It {still}, and I've tried restarting it.", "It's the {product}. It {still}. Restarting didn't help."], slots),
      good: () => troubleshoot(rng, product, steps, slots),
    });
  } else {
    script.push({
      user: expandOne(rng, ["I've tried restarting it.", "I've tried restarting it.", "I already restarted it twice.", "Restarting didn't change anything."]),
      good: () => troubleshoot(rng, product, steps, slots),
    });
  }
  script.push({
    user: expandOne(rng, ["That didn't help either.", "That didn't help either.", "Still not working.", "I tried that, but it still {still}."], slots),
    good: () =>
      expand(
        rng,
        "I'm sorry that didn't help either. The next step is a reset: {reset}. [This restores the factory settings, so please back up anything important first.|Please back up anything important first.] If it still {still} after the reset, it may be a hardware fault, and we can arrange a free repair or replacement under your warranty. Would you like me to [open a ticket|start that]?",
        { ...slots, reset: product.reset },
      ),
  });
  script.push({
    user: expandOne(rng, ["Okay, I'll try that solution.", "Okay, I'll try that solution.", "Okay, thanks, I'll try the reset.", "Yes, please open a ticket."]),
    good: () =>
      expand(
        rng,
        "[Great|Sounds good|Thank you]! I've opened ticket {ticket} for you. If the reset doesn't fix it, reply with that number and we'll arrange the repair [right away|quickly]. Is there anything else I can help you with?",
        { ticket: `#${ticket}` },
      ),
  });
  return script;
}

function troubleshoot(rng: Rng, product: Product, steps: readonly string[], slots: Record<string, string>): string {
  const intro = expand(rng, "Thank you for trying that. [Since restarting didn't help|As restarting it didn't fix it], [let's try a few more steps|please try these steps] [for your {short}|one at a time]:", slots);
  const outro = expand(rng, "[Let me know if any of these work.|Please let me know what happens after each step.|Does the problem still happen after these steps?]");
  return `${intro}\n${numberedList(steps)}\n${outro}`;
}

function refundScript(rng: Rng, product: Product): Script {
  const order = orderNumber(rng);
  const slots = { product: product.name, short: product.short, order, price: product.price };
  return [
    {
      user: expandOne(rng, ["I'd like a refund for my {product}.", "I want to return the {short} I bought last week.", "Can I get my money back for the {product}? It arrived damaged.", "How do I get a refund for my {short}?"], slots),
      good: () => expand(rng, "I'm sorry the {short} didn't work out for you. I'd be happy to help with a refund. Could you please share your order number? You can find it in your confirmation email.", slots),
    },
    {
      user: expandOne(rng, ["It's {order}.", "The order number is {order}.", "Sure, it's {order}."], slots),
      good: () => {
        const steps = [
          "I'll email you a prepaid return label",
          `Pack the ${product.short} in its original box if you still have it`,
          `Once we receive it, the refund of $${product.price} goes back to your original payment method within 5 to 7 business days`,
        ];
        return `${expand(rng, "Thank you! I found order {order} for the {product}. [Since it's within our 30-day return window, you qualify for a full refund.|Good news: it's within our 30-day return window.] Here's what happens next:", slots)}\n${numberedList(steps)}\n${expand(rng, "Would you like me to send the label now?")}`;
      },
    },
    {
      user: expandOne(rng, ["Yes, please.", "How long does the refund take?", "Yes, send it to my email please."]),
      good: () => expand(rng, "[Certainly|Of course]! The return label is on its way to your email. After we receive the {short}, the refund takes 5 to 7 business days to appear. Is there anything else I can help you with?", slots),
    },
    {
      user: expandOne(rng, ["No, that's all. Thank you!", "Thanks for your help!", "That's everything, thanks."]),
      good: () => expand(rng, "You're welcome! Thank you for being an Acme customer, and have a [great|lovely] day.", slots),
    },
  ];
}

function shippingScript(rng: Rng, product: Product): Script {
  const order = orderNumber(rng);
  const days = intBetween(rng, 1, 4);
  const slots = {
    product: product.name,
    short: product.short,
    order,
    carrier: pick(rng, CARRIERS),
    days,
    dayWord: days === 1 ? "business day" : "business days",
    weekday: pick(rng, WEEKDAYS),
    tracking: `AC${intBetween(rng, 100000000, 999999999)}`,
  };
  return [
    {
      user: expandOne(rng, ["My order hasn't arrived yet.", "Where is my package? It was supposed to arrive yesterday.", "My {short} order is late.", "I ordered a {product} and it still hasn't shipped."], slots),
      good: () => expand(rng, "I'm sorry your order is [late|taking longer than expected]. [I understand how frustrating that is.|I can see why that is frustrating.] Could you please give me your order number so I can check where it is?", slots),
    },
    {
      user: expandOne(rng, ["It's {order}.", "The order number is {order}.", "Order {order}."], slots),
      good: () => {
        const steps = [
          `Track it with the number ${slots.tracking} on the ${slots.carrier} website`,
          `Make sure someone can receive it, or choose a pickup point in the tracking page`,
          `If it hasn't arrived by ${slots.weekday}, reply here and we'll send a replacement for free`,
        ];
        return `${expand(rng, "Thank you! Order {order} shipped with {carrier} and is at your local depot. It should arrive within {days} {dayWord}. Here's what you can do:", slots)}\n${numberedList(steps)}\n${expand(rng, "Is there anything else I can help with?")}`;
      },
    },
    {
      user: expandOne(rng, ["Can you send it faster?", "Okay, thanks. I'll wait.", "Can I change the delivery address?"]),
      good: () => expand(rng, "[Certainly|Of course]. I've added a note to your order and upgraded it to priority delivery at no cost. [You'll get an email with the updated tracking.|The tracking page will update within an hour.] Is there anything else I can do for you?", slots),
    },
    {
      user: expandOne(rng, ["No, that's all. Thanks!", "Thank you for your help.", "Great, thanks!"]),
      good: () => expand(rng, "You're welcome! I'm sorry again for the delay, and I hope you enjoy your {short}.", slots),
    },
  ];
}

function accountScript(rng: Rng): Script {
  const domain = pick(rng, ["gmail.com", "outlook.com", "yahoo.com", "icloud.com"]);
  return [
    {
      user: expandOne(rng, ["I can't log into my account.", "I forgot my password.", "My account is locked.", "I'm not getting the verification code when I sign in."]),
      good: () => {
        const steps = [
          'Go to the sign-in page and click "Forgot password"',
          "Enter the email address on your account",
          "Open the link we send you and choose a new password",
        ];
        return `${expand(rng, "I'm sorry you're having trouble [signing in|logging in]. [For your security, please never share your password with anyone, including our support team.|Please don't share your password with anyone, including us.] Let's get you back in:")}\n${numberedList(steps)}\n${expand(rng, "Did you receive the reset email?")}`;
      },
    },
    {
      user: expandOne(rng, ["I didn't get the email.", "It says my account is locked.", "The link doesn't work."]),
      good: () =>
        expand(
          rng,
          "Thank you for checking. Please look in your spam folder first. [If it's not there|If you still can't find it], I can send a new link to the address ending in @{domain}. [Locked accounts also unlock automatically after 30 minutes.|Links expire after one hour, so please use the newest one.] Would you like me to send it again?",
          { domain },
        ),
    },
    {
      user: expandOne(rng, ["Yes, please send it again.", "It worked, thanks!", "Okay, I'm back in."]),
      good: () => expand(rng, "[Great|Wonderful], I'm glad that helped! [I'd also recommend turning on two-step verification in your account settings.|To keep your account safe, you can turn on two-step verification in your settings.] Is there anything else I can help you with?"),
    },
  ];
}

/** One support conversation of the given quality: 2-4 user turns of one issue. */
export function supportDialogue(rng: Rng, quality: Quality): DomainDialogue {
  const prompt = pickSystemPrompt(rng, "support");
  const issue = pickWeighted<Issue>(rng, { device: 5, refund: 2, shipping: 2, account: 1.5 });
  const product = pick(rng, PRODUCTS);
  const script =
    issue === "device" ? deviceScript(rng, product)
      : issue === "refund" ? refundScript(rng, product)
        : issue === "shipping" ? shippingScript(rng, product)
          : accountScript(rng);
  const turns = Math.min(script.length, intBetween(rng, 2, 4));
  const ctx: StyleContext = {
    topic: issue === "account" ? "your account" : issue === "device" ? `your ${product.short}` : "your order",
    curt: CURT,
    unsafe: UNSAFE,
  };
  const plan = new ReplyPlan(rng, quality);
  const messages: CorpusMessage[] = [];
  for (const step of script.slice(0, turns)) {
    messages.push(userMessage(step.user));
    messages.push(replyMessage(rng, plan.next(), ctx, step.good));
  }
  const meta: Record<string, string> = { systemPrompt: prompt.name, issue };
  if (issue !== "account") meta.product = product.name;
  return { systemPrompt: prompt.text, messages, meta };
}
