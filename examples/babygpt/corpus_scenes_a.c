/* corpus_scenes_a.c - scenario scripts for the built-in corpus (part 1: shops and services).
 * Each script writes one dialogue and a summary that states that dialogue's facts. */
#include <stdio.h>
#include <string.h>

#include "examples/babygpt/corpus_gen.h"

static void shopping(bg_gen *g) {
    SETP(g, "item", "jacket", "sweater", "coat", "shirt", "dress", "scarf", "skirt", "raincoat", "T-shirt",
         "hat");
    SETL(g, "color", bg_w_colors);
    SETP(g, "size", "small", "medium", "large", "extra large");
    SETP(g, "pay", "by card", "in cash");
    int price = 5 * bg_gen_int(g, 3, 30);
    bg_gen_set(g, "price", "%d", price);
    SAY(g, 2, "Good morning. Can I help you?", "Hello, are you looking for anything in particular?",
        "Hi there. What can I do for you today?");
    SAY(g, 1, "I'm looking for a {color} {item}.", "I'd like to buy a {color} {item}, please.",
        "Do you have this {item} in {color}?");
    SAY(g, 2, "What size do you wear?", "Sure. What size are you?", "Of course. Which size do you need?");
    SAY(g, 1, "{^size}, I think.", "I usually wear {size}.", "{^size}, please.");
    int tried = CHANCE(g, 50);
    if (tried) {
        SAY(g, 2, "Here you are. Would you like to try it on?",
            "Here's one in {size}. Do you want to try it on?");
        SAY(g, 1, "Yes, please. Where is the fitting room?", "Sure. Where can I try it on?");
        SAY(g, 2, "It's just over there, on the left.", "The fitting room is behind you.");
        SAY(g, 1, "It fits well. I like it.", "It fits perfectly.", "It's a little loose, but I like it.");
    }
    SAY(g, 1, "How much is it?", "What's the price?", "How much does it cost?");
    SAY(g, 2, "It's {price} dollars.", "This one is {price} dollars.", "It costs {price} dollars.");
    int off = CHANCE(g, 40);
    if (off) {
        bg_gen_set(g, "final", "%d", price - price / 10);
        SAY(g, 1, "That's a bit expensive. Can you give me a discount?", "Hmm, is there any discount?");
        SAY(g, 2, "Well, I can give you ten percent off. That makes it {final} dollars.",
            "It's on sale this week, so you get ten percent off. That's {final} dollars.");
    }
    SAY(g, 1, "OK, I'll take it. Can I pay {pay}?", "Fine, I'll take it. I'll pay {pay}.",
        "Great. I'll take it, and I'll pay {pay}.");
    SAY(g, 2, "Sure. Here's your receipt. Have a nice day.", "No problem. Thank you for shopping with us.");
    SUM(g, "{A} wants to buy a {color} {item} in size {size}.", "{A} buys a {color} {item}, size {size}.");
    if (tried) SUM(g, "{A} tries it on and likes it.", "It fits {A} well.");
    if (off)
        SUM(g, "It costs {price} dollars, but {B} gives {A} ten percent off, so {A} pays {final} "
               "dollars {pay}.");
    else
        SUM(g, "{B} says it costs {price} dollars, and {A} pays {pay}.",
            "It costs {price} dollars and {A} pays {pay}.");
}

static void restaurant(bg_gen *g) {
    SETP(g, "dish", "the grilled chicken", "the beef steak", "the vegetable soup", "the fish and chips",
         "the mushroom pasta", "the lamb curry", "the Caesar salad", "the seafood rice");
    SETP(g, "drink", "a glass of orange juice", "a cup of coffee", "a bottle of mineral water",
         "a glass of red wine", "a cup of green tea", "a cola");
    SETP(g, "side", "some bread", "a small salad", "some french fries", "steamed vegetables");
    SETP(g, "dessert", "apple pie", "chocolate cake", "ice cream", "cheesecake");
    SAY(g, 2, "Good evening. Are you ready to order?", "Hello. May I take your order now?",
        "Good afternoon. What would you like today?");
    if (CHANCE(g, 50)) {
        SAY(g, 1, "What do you recommend?", "What's good here today?", "What's the special today?");
        SAY(g, 2, "{^dish} is very popular.", "I'd recommend {dish}. It's our chef's special.");
        SAY(g, 1, "Sounds good. I'll have {dish}, then.", "All right, I'll try {dish}.");
    } else {
        SAY(g, 1, "Yes, I'd like {dish}, please.", "I'll have {dish}, please.", "Could I have {dish}?");
    }
    SAY(g, 2, "Would you like anything with that?", "Anything on the side?", "Would you like a side dish?");
    SAY(g, 1, "Yes, {side}, please.", "I'll have {side}.");
    SAY(g, 2, "And what would you like to drink?", "Something to drink?", "Can I get you anything to drink?");
    SAY(g, 1, "{^drink}, please.", "Just {drink}, thanks.", "I'd like {drink}.");
    int sweet = CHANCE(g, 50);
    if (sweet) {
        SAY(g, 2, "Would you like to see the dessert menu?", "Will you have dessert?");
        SAY(g, 1, "Yes, I'll have the {dessert}.", "Maybe the {dessert}, please.");
    }
    SAY(g, 2, "Very good. It'll be ready in about fifteen minutes.", "Thank you. I'll bring it right away.",
        "Certainly. Your food will be ready soon.");
    SUM(g, "{A} orders {dish} with {side} and {drink} at a restaurant.",
        "At the restaurant, {A} orders {dish}, {side} and {drink}.");
    if (sweet) SUM(g, "{A} also wants {dessert} for dessert.", "{A} will have {dessert} after the meal.");
}

static void doctor(bg_gen *g) {
    int k = bg_gen_int(g, 0, 5);
    SETK(g, "sym", k, "a bad headache", "a sore throat", "a high fever", "a terrible cough", "a stomachache",
         "a pain in the back");
    SETK(g, "cause", k, "stress", "an infection", "the flu", "a cold", "food poisoning", "a pulled muscle");
    bg_gen_set(g, "days", "%s", PICK(g, "two", "three", "four", "five"));
    SETP(g, "advice", "get plenty of rest", "drink lots of water", "stay in bed for a few days",
         "avoid spicy food", "stop working late");
    SETP(g, "med", "some tablets", "some pills", "some capsules", "some painkillers");
    SETP(g, "times", "twice a day", "three times a day", "once a day after breakfast");
    SAY(g, 1, "Good morning, Mr. {sur}. What seems to be the problem?",
        "Hello, Mr. {sur}. What's wrong today?", "Please sit down, Mr. {sur}. How can I help you?");
    SAY(g, 2, "I've had {sym} for {days} days.", "Doctor, I have {sym}. It started {days} days ago.",
        "I don't feel well. I've got {sym}.");
    SAY(g, 1, "I see. Do you have any other symptoms?", "Let me have a look. Anything else?");
    SAY(g, 2, "Not really, but I feel very tired.", "I can't sleep well at night.", "No, just that.");
    SAY(g, 1, "It looks like {cause}. Nothing serious.", "I think it's {cause}. Don't worry.");
    SAY(g, 1, "I'll give you {med}. Take them {times}.",
        "Here's a prescription for {med}. Take them {times}.");
    SAY(g, 1, "And you should {advice}.", "You also need to {advice}.");
    SAY(g, 2, "Thank you, doctor.", "Thanks. I'll do that.", "All right. Thank you very much.");
    bg_gen_set(g, "B", "Mr. %s", bg_gen_get(g, "sur"));
    SUM(g, "{B} has had {sym} and sees the doctor.", "{B} goes to see the doctor because of {sym}.");
    SUM(g, "The doctor thinks it's {cause}, gives {B} {med} to take {times}, and tells {B} to "
           "{advice}.");
}

static void flight(bg_gen *g) {
    SETL(g, "city", bg_w_cities);
    SETL(g, "day", bg_w_days);
    SETP(g, "cls", "economy", "business");
    int tk = bg_gen_int(g, 0, 2);
    SETK(g, "time", tk, "in the morning", "in the afternoon", "in the evening");
    SETK(g, "clock", tk * 2 + bg_gen_int(g, 0, 1), "7:40", "10:15", "13:30", "16:50", "19:05", "20:20");
    bg_gen_set(g, "fare", "%d", 10 * bg_gen_int(g, 15, 90));
    int ret = CHANCE(g, 50);
    bg_gen_set(g, "way", ret ? "a return ticket" : "a one-way ticket");
    SAY(g, 2, "Good afternoon, this is Sky Travel. How may I help you?",
        "Hello, travel agency. What can I do for you?");
    SAY(g, 1, "I'd like to book a flight to {city}, please.", "Hi. I want to fly to {city} next {day}.",
        "Could you book me a flight to {city}?");
    SAY(g, 2, "When would you like to leave?", "Which day do you want to travel?");
    SAY(g, 1, "Next {day}, {time} if possible.", "On {day}, {time}.");
    SAY(g, 2, "There's a flight at {clock}. Economy or business class?",
        "We have one leaving at {clock}. Which class?");
    SAY(g, 1, "{^cls}, please.", "{^cls} class will be fine.");
    SAY(g, 2, "One way or return?", "Do you need a return ticket?");
    SAY(g, 1, ret ? "Return, please. I'll come back a week later." : "Just one way, please.");
    SAY(g, 2, "That comes to {fare} dollars.", "The total fare is {fare} dollars.");
    SAY(g, 1, "That's fine. Please book it.", "OK, I'll take it.");
    SUM(g, "{A} books {way} to {city} in {cls} class for next {day} on the flight at {clock}.",
        "{A} asks {B} to book a flight to {city} on {day}; {A} takes {way} in {cls} class leaving "
        "at {clock}.");
    SUM(g, "It costs {fare} dollars.", "The fare is {fare} dollars.");
}

static void hotel(bg_gen *g) {
    int nights = bg_gen_int(g, 1, 6);
    bg_gen_set(g, "n", "%s", (const char *[]){"one", "two", "three", "four", "five", "six"}[nights - 1]);
    bg_gen_set(g, "night", nights == 1 ? "night" : "nights");
    SETP(g, "room", "a single room", "a double room", "a twin room", "a suite");
    bg_gen_set(g, "rate", "%d", 10 * bg_gen_int(g, 6, 25));
    bg_gen_set(g, "no", "%d", 100 * bg_gen_int(g, 2, 9) + bg_gen_int(g, 1, 30));
    SETP(g, "bf", "from seven to ten", "from six thirty to nine thirty", "until ten o'clock");
    SAY(g, 2, "Good evening. Welcome to the Grand Hotel.", "Hello, welcome. How can I help you?");
    SAY(g, 1, "Hi, I have a reservation under the name {p1} {sur}.",
        "Good evening. I booked {room} for {n} {night}. My name is {p1} {sur}.");
    SAY(g, 2, "Let me check. Yes, {room} for {n} {night}. Is that right?",
        "Yes, here it is: {room} for {n} {night}.");
    SAY(g, 1, "That's right. How much is it per night?", "Yes. What's the rate per night?");
    SAY(g, 2, "It's {rate} dollars a night, including breakfast.",
        "{rate} dollars per night, breakfast included.");
    SAY(g, 1, "When is breakfast served?", "What time is breakfast?");
    SAY(g, 2, "Breakfast is served {bf} in the dining room.", "In the restaurant on the first floor, {bf}.");
    SAY(g, 2, "Here is your key. Your room number is {no}.", "Your room is {no}. Here's the key card.");
    SAY(g, 1, "Thank you very much.", "Great, thanks.");
    bg_gen_set(g, "A", "%s", bg_gen_get(g, "p1"));
    SUM(g, "{A} checks in at the hotel and has {room} for {n} {night} at {rate} dollars a night.",
        "{A} has booked {room} for {n} {night}; it costs {rate} dollars a night with breakfast.");
    SUM(g, "Breakfast is served {bf}, and {A}'s room number is {no}.");
}

static void interview(bg_gen *g) {
    SETP(g, "job", "sales manager", "software engineer", "bank clerk", "secretary", "math teacher",
         "marketing assistant", "nurse", "graphic designer");
    SETP(g, "yrs", "two", "three", "five", "seven");
    SETP(g, "co", "a small company", "a bank", "a big hospital", "an international firm", "a school");
    SETP(g, "strength", "I'm a hard worker", "I work well in a team", "I learn new things quickly",
         "I'm very organized");
    int w = bg_gen_int(g, 0, 2);
    SETK(g, "why", w, "I want a new challenge", "I'd like to work closer to home",
         "I want to grow in my career");
    SETK(g, "swhy", w, "{p2} wants a new challenge", "{p2} would like to work closer to home",
         "{p2} wants to grow in the career");
    SETL(g, "day", bg_w_days);
    SAY(g, 1, "Good morning, {p2}. Please have a seat.", "Hello, {p2}. Thank you for coming in today.");
    SAY(g, 2, "Thank you. It's nice to meet you.", "Good morning. Thank you for having me.");
    SAY(g, 1, "So, you're applying for the position of {job}. Tell me about your experience.",
        "Why don't you tell me about your work experience?");
    SAY(g, 2, "I've worked as a {job} at {co} for {yrs} years.",
        "I have {yrs} years of experience as a {job} at {co}.");
    SAY(g, 1, "Why do you want to leave your present job?", "Why are you looking for a new job?");
    SAY(g, 2, "Because {why}.", "Well, {why}.");
    SAY(g, 1, "What is your greatest strength?", "What would you say is your main strength?");
    SAY(g, 2, "{strength}.", "I think {strength}.");
    SAY(g, 1, "Good. We'll let you know our decision by {day}.", "Thank you. You'll hear from us by {day}.");
    SAY(g, 2, "Thank you for your time.", "I look forward to hearing from you.");
    bg_gen_set(g, "B", "%s", bg_gen_get(g, "p2"));
    SUM(g, "{B} has a job interview for the position of {job}.", "{A} interviews {B} for a job as {job}.");
    SUM(g, "{B} has worked at {co} for {yrs} years and wants to leave because {swhy}.");
    SUM(g, "{A} will tell {B} the result by {day}.", "{B} will hear the decision by {day}.");
}

static void weather(bg_gen *g) {
    SETP(g, "now", "sunny", "cloudy", "rainy", "windy", "freezing", "hot");
    SETP(g, "fc", "it will rain tomorrow", "it will be sunny this weekend", "a storm is coming tonight",
         "it's going to snow on Sunday", "it will be warmer next week");
    SETP(g, "plan", "go for a picnic", "play tennis", "go hiking", "wash the car", "go to the beach");
    int change = CHANCE(g, 50);
    SAY(g, 1, "What a {now} day, isn't it?", "It's so {now} today.", "Hi, {p2}. Pretty {now} today, huh?");
    SAY(g, 2, "Yes, it is. Have you heard the weather forecast?", "It sure is. Did you see the forecast?");
    SAY(g, 1, "The radio said {fc}.", "I heard that {fc}.", "According to the forecast, {fc}.");
    SAY(g, 2, "Really? I was going to {plan}.", "Oh no. We planned to {plan}.");
    if (change) {
        SAY(g, 1, "Maybe you should do it another day.", "Perhaps you'd better change your plans.");
        SAY(g, 2, "You're right. I'll put it off.", "I guess I'll stay home and watch a film instead.");
    } else {
        SAY(g, 1, "Well, the weather changes a lot here.", "It might still be fine.");
        SAY(g, 2, "I'll take an umbrella and go anyway.", "True. I'll go anyway and hope for the best.");
    }
    SUM(g, "{A} and {B} talk about the weather. It's {now} today, and {fc}.",
        "{A} tells {B} that {fc}; today it's {now}.");
    SUM(g, change ? "{B} wanted to {plan} but decides to change the plan."
                  : "{B} planned to {plan} and will go anyway.");
}

static void renting(bg_gen *g) {
    int beds = bg_gen_int(g, 1, 3);
    bg_gen_set(g, "beds", "%s", beds == 1 ? "one-bedroom" : beds == 2 ? "two-bedroom" : "three-bedroom");
    bg_gen_set(g, "rent", "%d", 50 * bg_gen_int(g, 12, 50));
    SETP(g, "near", "near the subway station", "close to the city center", "next to a park",
         "near a shopping mall", "ten minutes from the university");
    SETP(g, "extra", "The water and electricity are included.", "There's a washing machine in the kitchen.",
         "Pets are not allowed.", "It comes fully furnished.");
    SETP(g, "dep", "one month's rent", "two months' rent");
    SETL(g, "day", bg_w_days);
    SETL(g, "time", bg_w_times);
    SAY(g, 1, "Hello, I'm calling about the flat for rent.",
        "Hi. I saw your ad for an apartment. Is it still available?");
    SAY(g, 2, "Yes, it is. It's a {beds} flat {near}.", "Yes. It's a nice {beds} apartment {near}.");
    SAY(g, 1, "How much is the rent?", "What's the monthly rent?");
    SAY(g, 2, "It's {rent} dollars a month. {extra}", "{rent} dollars per month. {extra}");
    if (CHANCE(g, 50)) {
        SAY(g, 1, "Do I need to pay a deposit?", "Is there a deposit?");
        SAY(g, 2, "Yes, {dep} as a deposit.", "You pay {dep} in advance as a deposit.");
        SUM(g, "{A} asks about a {beds} flat {near}; the rent is {rent} dollars a month and the "
               "deposit is {dep}.");
    } else {
        SUM(g, "{A} calls about a {beds} flat {near}; the rent is {rent} dollars a month.");
    }
    SAY(g, 1, "Can I come and see it?", "When can I have a look at it?");
    SAY(g, 2, "How about {day} at {time}?", "Is {day} at {time} OK for you?");
    SAY(g, 1, "That's fine. See you then.", "Perfect. I'll be there.");
    SUM(g, "{A} will see the flat on {day} at {time}.", "They agree to meet on {day} at {time} to see it.");
}

static void library(bg_gen *g) {
    SETP(g, "book", "a novel by Jane Austen", "a book about Chinese history", "a cookbook",
         "a guide to learning Spanish", "a book on computer programming", "a biography of Einstein");
    SETP(g, "weeks", "two", "three", "four");
    SETP(g, "fine", "ten cents", "twenty cents", "fifty cents");
    int card = CHANCE(g, 40);
    SAY(g, 1, "Excuse me, I'm looking for {book}.", "Hi. Do you have {book}?",
        "Could you help me find {book}?");
    SAY(g, 2, "Let me check the computer. Yes, it's on the second floor.",
        "Yes, we have two copies. They're in section C.");
    if (card) {
        SAY(g, 1, "I'd like to borrow it, but I don't have a library card.",
            "Can I borrow it? I'm new here.");
        SAY(g, 2, "No problem. Just fill in this form and show me your ID.",
            "You need a card first. Please fill in this form.");
        SAY(g, 1, "Here you are.", "OK, done.");
    } else {
        SAY(g, 1, "Great. I'd like to check it out. Here's my card.",
            "I'll borrow it. Here's my library card.");
    }
    SAY(g, 1, "How long can I keep it?", "When do I have to return it?");
    SAY(g, 2, "For {weeks} weeks. The fine is {fine} a day if it's late.",
        "You can keep it for {weeks} weeks. Late books cost {fine} a day.");
    SAY(g, 1, "Thanks for your help.", "Got it. Thank you.");
    SUM(g, "{A} borrows {book} from the library.", "{A} wants {book} and checks it out of the library.");
    if (card) SUM(g, "{A} has to get a library card first.");
    SUM(g, "{A} can keep it for {weeks} weeks, and the late fine is {fine} a day.");
}

static void bank(bg_gen *g) {
    int open = CHANCE(g, 50);
    bg_gen_set(g, "amt", "%d", 100 * bg_gen_int(g, 2, 20));
    SETP(g, "cur", "euros", "pounds", "Japanese yen", "Swiss francs");
    SETP(g, "rate", "1.1", "1.3", "0.9", "1.2");
    SETP(g, "acct", "a savings account", "a checking account");
    SAY(g, 2, "Good morning. What can I do for you?", "Next, please. How can I help you?");
    if (open) {
        SAY(g, 1, "I'd like to open {acct}.", "I want to open {acct}, please.");
        SAY(g, 2, "Certainly. May I see your passport or ID card?",
            "Sure. I'll need your ID and proof of address.");
        SAY(g, 1, "Here you are. Is there a minimum deposit?", "Here it is. How much do I need to put in?");
        SAY(g, 2, "You need {amt} dollars to start.", "The minimum deposit is {amt} dollars.");
        SAY(g, 1, "OK, I'll deposit {amt} dollars now.", "Fine. Here are {amt} dollars.");
        SAY(g, 2, "Thank you. Your bank card will arrive by mail in a week.",
            "Done. You'll get your card in about a week.");
        SUM(g, "{A} opens {acct} at the bank with a deposit of {amt} dollars.",
            "{A} wants to open {acct}; {B} asks for ID and {A} deposits {amt} dollars.");
        SUM(g, "The bank card will arrive in a week.");
    } else {
        SAY(g, 1, "I'd like to change {amt} dollars into {cur}.", "Can I exchange {amt} dollars for {cur}?");
        SAY(g, 2, "Sure. Today's rate is {rate}.", "The exchange rate today is {rate}.");
        SAY(g, 1, "Is there a service charge?", "Do you charge a fee?");
        SAY(g, 2, "Yes, a small fee of two percent.", "There's a two percent commission.");
        SAY(g, 1, "That's fine. Here's the money.", "OK, go ahead.");
        SUM(g, "{A} changes {amt} dollars into {cur} at the bank.", "{A} exchanges {amt} dollars for {cur}.");
        SUM(g, "The rate is {rate} and there's a two percent fee.");
    }
}

static void gym(bg_gen *g) {
    SETP(g, "plan", "a monthly membership", "a yearly membership", "a three-month pass");
    bg_gen_set(g, "fee", "%d", 5 * bg_gen_int(g, 5, 16));
    SETP(g, "cls", "yoga", "swimming", "boxing", "dance", "spinning");
    SETP(g, "hours", "from six in the morning to ten at night", "twenty-four hours a day",
         "from seven to eleven every day");
    SETL(g, "day", bg_w_days);
    SAY(g, 1, "Hi. I'm interested in joining the gym.", "Hello. I'd like some information about membership.");
    SAY(g, 2, "Great. We have {plan} for {fee} dollars a month.",
        "Our most popular choice is {plan}. It's {fee} dollars a month.");
    SAY(g, 1, "What are the opening hours?", "When are you open?");
    SAY(g, 2, "We're open {hours}.", "The gym is open {hours}.");
    SAY(g, 1, "Do you have any classes?", "Are there group classes too?");
    SAY(g, 2, "Yes, there's a {cls} class every {day}, and it's free for members.",
        "We have {cls} on {day}s. It's included.");
    int join = CHANCE(g, 70);
    if (join) {
        SAY(g, 1, "Sounds good. I'll sign up today.", "Perfect. Where do I sign?");
        SAY(g, 2, "Wonderful. Just fill in this form.", "Great, welcome to the club!");
    } else {
        SAY(g, 1, "Let me think about it.", "I'll think about it and come back.");
        SAY(g, 2, "Sure. Here's a brochure.", "No problem. Take this brochure with you.");
    }
    SUM(g, "{A} asks about joining the gym; {B} offers {plan} for {fee} dollars a month.");
    SUM(g, "The gym is open {hours} and has a free {cls} class on {day}.");
    SUM(g, join ? "{A} decides to sign up." : "{A} will think about it.");
}

static void exam(bg_gen *g) {
    int k = bg_gen_int(g, 0, 5);
    SETK(g, "subj", k, "math", "history", "chemistry", "biology", "physics", "Spanish");
    SETK(g, "hard", k, "the formulas", "all the dates", "the lab reports", "the long essay questions",
         "the problems about electricity", "the grammar");
    SETL(g, "day", bg_w_days);
    int w = bg_gen_int(g, 0, 3);
    SETK(g, "where", w, "the library", "my place", "the coffee shop near school", "the study room");
    SETK(g, "swhere", w, "the library", "{B}'s place", "the coffee shop near school", "the study room");
    SETL(g, "time", bg_w_times);
    SAY(g, 1, "Hey, {p2}. Are you ready for the {subj} exam?",
        "{p2}, did you start studying for the {subj} test?");
    SAY(g, 2, "Not really. It's on {day}, right?", "A little. When is it again? {day}?");
    SAY(g, 1, "Yes, on {day}. I'm worried about {hard}.",
        "That's right, {day}. I find {hard} really difficult.");
    SAY(g, 2, "Me too. Why don't we study together?", "So do I. Shall we study together?");
    SAY(g, 1, "Good idea. Where should we meet?", "Sure. Where?");
    SAY(g, 2, "How about {where} at {time} tomorrow?", "Let's meet at {where}, tomorrow at {time}.");
    SAY(g, 1, "OK, see you there.", "Deal. I'll bring my notes.");
    SUM(g, "{A} and {B} have a {subj} exam on {day}. {A} is worried about {hard}.",
        "{A} is worried about {hard} for the {subj} exam on {day}.");
    SUM(g, "They will study together at {swhere} tomorrow at {time}.");
}

const bg_scene bg_scenes_a[] = {
    {"shopping for clothes", shopping},
    {"ordering food", restaurant},
    {"see a doctor", doctor},
    {"book a flight", flight},
    {"hotel check-in", hotel},
    {"job interview", interview},
    {"weather", weather},
    {"rent an apartment", renting},
    {"borrow a book", library},
    {"at the bank", bank},
    {"join a gym", gym},
    {"prepare for an exam", exam},
};
const size_t bg_nscenes_a = sizeof bg_scenes_a / sizeof *bg_scenes_a;
