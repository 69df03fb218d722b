/* corpus_scenes_b.c - scenario scripts for the built-in corpus (part 2: daily life).
 * Each script writes one dialogue and a summary that states that dialogue's facts. */
#include <stdio.h>
#include <string.h>

#include "examples/babygpt/corpus_gen.h"

static void birthday(bg_gen *g) {
    SETP(g, "who", "Mom", "Dad", "Grandma", "Grandpa", "Aunt Lucy", "Uncle Ben");
    SETL(g, "day", bg_w_days);
    SETP(g, "place", "an Italian restaurant", "the park", "our house", "a karaoke bar", "a nice cafe");
    SETP(g, "gift", "a watch", "a cookbook", "a scarf", "concert tickets", "a photo album", "a bike");
    SETP(g, "cake", "a chocolate cake", "a strawberry cake", "a cheesecake");
    SAY(g, 1, "{p2}, don't forget that {who}'s birthday is on {day}.",
        "Hey {p2}, {who}'s birthday is this {day}. Any ideas?");
    SAY(g, 2, "Of course I remember. Shall we have a party?", "I know. Let's plan something special.");
    SAY(g, 1, "Yes. How about a party at {place}?", "Let's celebrate at {place}.");
    SAY(g, 2, "Great idea. What should we buy as a present?", "Good. And what about a gift?");
    SAY(g, 1, "I think {who} would love {gift}.", "Maybe {gift}? {who} talked about it last month.");
    SAY(g, 2, "Perfect. I'll order {cake} too.",
        "Good choice. I'll take care of the cake. {^cake}, I think.");
    SAY(g, 1, "Great. Let's keep it a surprise.", "Wonderful. Don't tell {who}!");
    SUM(g, "{A} and {B} plan a birthday party for {who} on {day} at {place}.",
        "{who}'s birthday is on {day}, so {A} and {B} plan a party at {place}.");
    SUM(g, "They will buy {gift} as a present, and {B} will get {cake}.");
}

static void lost(bg_gen *g) {
    SETP(g, "item", "wallet", "backpack", "handbag", "laptop bag", "purse", "sports bag");
    SETL(g, "color", bg_w_colors);
    SETP(g, "where", "on the bus", "in the cafeteria", "at the train station", "in the park", "in the taxi");
    SETP(g, "when", "this morning", "yesterday afternoon", "last night", "an hour ago");
    SETP(g, "inside", "my ID card", "some cash", "a photo of my family", "my bus pass", "my house key");
    int found = CHANCE(g, 50);
    if (CHANCE(g, 50)) {
        SAY(g, 1, "Excuse me, is this the lost and found office?",
            "Hello, is this where I report lost things?");
        SAY(g, 2, "Yes. What have you lost?", "Yes, it is. What did you lose?");
    } else {
        SAY(g, 1, "Hello. I think I've lost my {item}.", "Excuse me, I can't find my {item} anywhere.");
        SAY(g, 2, "I'm sorry to hear that. Can you describe it?", "Oh dear. What does it look like?");
    }
    SAY(g, 1, "A {color} {item}. I left it {where} {when}.",
        "It's a {color} {item}. I lost it {where} {when}.");
    SAY(g, 2, "Was there anything inside?", "What was in it?");
    SAY(g, 1, "Just {inside}.", "There was {inside} in it.");
    if (found) {
        SAY(g, 2, "Let me see. Is this yours?",
            "Wait a moment. Someone brought in a {color} {item} today. Is this it?");
        SAY(g, 1, "Yes, that's mine! Thank you so much!", "That's it! I'm so relieved.");
        SUM(g, "{A} lost a {color} {item} {where} {when} and finds it at the lost and found office.");
    } else {
        SAY(g, 2, "Nothing like that has come in yet. Leave your phone number and we'll call you.",
            "I'm afraid we don't have it. Please fill in this form and we'll contact you.");
        SAY(g, 1, "OK, thank you.", "All right. I hope someone finds it.");
        SUM(g, "{A} lost a {color} {item} {where} {when}. It hasn't been found yet, so {A} leaves "
               "contact details.");
    }
}

static void directions(bg_gen *g) {
    SETP(g, "dest", "the train station", "the post office", "the city museum", "the nearest bank",
         "the hospital", "the shopping center", "the police station");
    SETP(g, "turn", "left", "right");
    SETP(g, "st", "Main Street", "Oak Avenue", "Park Road", "King Street", "River Lane");
    SETP(g, "land", "a supermarket", "a church", "a big hotel", "a gas station", "a bookstore");
    SETP(g, "min", "five", "ten", "fifteen");
    SAY(g, 1, "Excuse me, could you tell me how to get to {dest}?", "Sorry to bother you. Where is {dest}?",
        "Excuse me, I'm lost. How do I get to {dest}?");
    SAY(g, 2, "Sure. Go straight and turn {turn} at {st}.",
        "Of course. Walk down this road and take a {turn} on {st}.");
    SAY(g, 2, "You'll see {land}. It's right next to it.", "It's opposite {land}. You can't miss it.");
    SAY(g, 1, "Is it far from here?", "How long does it take on foot?");
    SAY(g, 2, "No, it's about {min} minutes' walk.", "Only about {min} minutes on foot.");
    SAY(g, 1, "Thank you very much.", "Thanks a lot for your help.");
    SAY(g, 2, "You're welcome.", "No problem. Have a good day.");
    SUM(g,
        "{A} asks {B} the way to {dest}. {B} tells {A} to turn {turn} at {st}; it's near {land}, "
        "about {min} minutes' walk away.",
        "{B} gives {A} directions to {dest}: turn {turn} at {st} and look for {land}. It takes "
        "about {min} minutes on foot.");
}

static void taxi(bg_gen *g) {
    SETP(g, "dest", "the airport", "the Hilton Hotel", "Central Station", "the city hospital", "Green Park");
    bg_gen_set(g, "min", "%d", 5 * bg_gen_int(g, 3, 9));
    bg_gen_set(g, "fare", "%d", bg_gen_int(g, 12, 60));
    int hurry = CHANCE(g, 50);
    SAY(g, 2, "Where to?", "Good morning. Where would you like to go?");
    SAY(g, 1, "{^dest}, please.", "Please take me to {dest}.");
    if (hurry) {
        SAY(g, 1, "I'm in a hurry. I have to be there in half an hour.",
            "Could you hurry, please? I'm late.");
        SAY(g, 2, "I'll do my best, but the traffic is heavy today.", "I'll take a shortcut.");
    }
    SAY(g, 1, "How long will it take?", "How far is it?");
    SAY(g, 2, "About {min} minutes.", "It should take about {min} minutes.");
    SAY(g, 2, "Here we are. That's {fare} dollars.", "We're here. The fare is {fare} dollars.");
    SAY(g, 1, "Here you are. Keep the change.", "Thanks. Can I have a receipt?");
    SUM(g, "{A} takes a taxi to {dest}.", "{B} drives {A} to {dest} by taxi.");
    if (hurry) SUM(g, "{A} is in a hurry.");
    SUM(g, "The ride takes about {min} minutes and costs {fare} dollars.");
}

static void post(bg_gen *g) {
    SETL(g, "city", bg_w_cities);
    SETP(g, "what", "a parcel", "a package of books", "a box of clothes", "a gift box");
    bg_gen_set(g, "kg", "%d", bg_gen_int(g, 2, 9));
    bg_gen_set(g, "cost", "%d", bg_gen_int(g, 4, 40));
    SETP(g, "days", "three days", "five days", "a week", "ten days");
    int air = CHANCE(g, 50);
    bg_gen_set(g, "how", air ? "by airmail" : "by regular mail");
    SAY(g, 1, "I'd like to send {what} to {city}.", "Hello. How much is it to send {what} to {city}?");
    SAY(g, 2, "Let me weigh it. It's {kg} kilos.", "Please put it on the scale. {kg} kilograms.");
    SAY(g, 2, "Airmail or regular mail?", "Do you want to send it by airmail or by regular mail?");
    SAY(g, 1, air ? "Airmail, please." : "Regular mail is fine.");
    SAY(g, 2, "That's {cost} dollars. It will take about {days}.",
        "It costs {cost} dollars and takes about {days}.");
    SAY(g, 1, "OK. Here's the money.", "Fine. Thank you.");
    SUM(g, "{A} sends {what} to {city} {how} at the post office.", "{A} mails {what} to {city} {how}.");
    SUM(g, "It weighs {kg} kilos, costs {cost} dollars and will take about {days}.");
}

static void haircut(bg_gen *g) {
    SETL(g, "day", bg_w_days);
    SETL(g, "time", bg_w_times);
    SETP(g, "svc", "a haircut", "a haircut and a wash", "a hair coloring", "a trim");
    SETP(g, "alt", "nine o'clock", "eleven", "three thirty", "five fifteen");
    int moved = CHANCE(g, 50);
    SAY(g, 2, "Good morning, Style Salon. How can I help?", "Hello, Lily's Hair Studio.");
    SAY(g, 1, "Hi. I'd like to make an appointment for {svc}.", "Hello, can I book {svc}?");
    SAY(g, 2, "Sure. When would you like to come?", "Of course. What day suits you?");
    SAY(g, 1, "Is {day} at {time} possible?", "How about {day} at {time}?");
    if (moved) {
        SAY(g, 2, "Sorry, we're fully booked then. Would {alt} be OK?",
            "I'm afraid {time} is taken. We have {alt}.");
        SAY(g, 1, "Yes, {alt} is fine.", "All right, {alt} then.");
        bg_gen_set(g, "time", "%s", bg_gen_get(g, "alt"));
    } else {
        SAY(g, 2, "Yes, that's fine.", "Let me check. Yes, we have a free slot.");
    }
    SAY(g, 2, "May I have your name, please?", "Can I get your name?");
    SAY(g, 1, "It's {p1} {sur}.", "{p1} {sur}.");
    SAY(g, 2, "Thank you, {p1}. See you on {day}.", "Got it. See you on {day} at {time}.");
    bg_gen_set(g, "A", "%s", bg_gen_get(g, "p1"));
    SUM(g, "{A} calls the hair salon to book {svc} and gets an appointment on {day} at {time}.",
        "{A} makes an appointment for {svc} on {day} at {time}.");
    if (moved) SUM(g, "The first time {A} asked for was taken.");
}

static void cinema(bg_gen *g) {
    SETP(g, "genre", "an action film", "a comedy", "a horror movie", "a science fiction film", "a love story",
         "a cartoon");
    SETP(g, "alt", "an action film", "a comedy", "a documentary", "a science fiction film");
    SETL(g, "time", bg_w_times);
    SETP(g, "meet", "in front of the cinema", "at the bus stop", "at my place",
         "at the coffee shop next door");
    SAY(g, 1, "Are you free tonight? Let's go to the movies.",
        "Hey {p2}, do you want to see a film this evening?");
    SAY(g, 2, "Sure. What's on?", "Good idea. What do you want to see?");
    SAY(g, 1, "There's {genre} everyone is talking about.", "I'd like to see {genre}.");
    int agree = CHANCE(g, 60);
    if (agree) {
        SAY(g, 2, "Sounds great. What time does it start?", "I love that kind of film. When does it start?");
    } else {
        SAY(g, 2, "Hmm, I'm not a fan. How about {alt} instead?", "I'd rather see {alt}.");
        SAY(g, 1, "OK, fine with me.", "All right, let's see {alt} then.");
        bg_gen_set(g, "genre", "%s", bg_gen_get(g, "alt"));
        SAY(g, 2, "Great. When does it start?", "When is the show?");
    }
    SAY(g, 1, "At {time}. Let's meet {meet} fifteen minutes before.",
        "The show is at {time}. Shall we meet {meet}?");
    SAY(g, 2, "Perfect. I'll buy the popcorn.", "OK. See you there.");
    SUM(g, "{A} invites {B} to the cinema tonight.", "{A} and {B} decide to go to the movies tonight.");
    if (!agree) SUM(g, "{B} suggests another film, and {A} agrees.");
    SUM(g, "They will see {genre} at {time} and meet {meet}.");
}

static void grocery(bg_gen *g) {
    SETP(g, "i1", "milk", "bread", "rice", "cheese", "butter", "flour", "coffee");
    SETP(g, "i2", "apples", "tomatoes", "bananas", "potatoes", "onions", "carrots");
    SETP(g, "i3", "chicken", "fish", "beef", "pasta", "orange juice");
    SETP(g, "aisle", "three", "five", "seven", "nine");
    bg_gen_set(g, "total", "%d.%02d", bg_gen_int(g, 8, 45), 5 * bg_gen_int(g, 0, 19));
    SAY(g, 1, "Excuse me, where can I find the {i1}?", "Hi. Do you know where the {i1} is?");
    SAY(g, 2, "It's in aisle {aisle}, next to the frozen food.", "Aisle {aisle}, on your right.");
    SAY(g, 1, "Thanks. And are the {i2} fresh today?", "Are the {i2} on sale?");
    SAY(g, 2, "Yes, they just came in this morning.", "Yes, they're two for one today.");
    SAY(g, 1, "Great. I'll also take some {i3}.", "Good. I need some {i3} too.");
    SAY(g, 2, "Your total is {total} dollars.", "That comes to {total} dollars.");
    SAY(g, 1, "Here you are.", "Can I pay by card?");
    SUM(g, "{A} shops at the supermarket and buys {i1}, {i2} and {i3}.",
        "{A} buys {i1}, {i2} and {i3} at the store.");
    SUM(g, "The {i1} is in aisle {aisle}, and the total is {total} dollars.");
}

static void car(bg_gen *g) {
    int k = bg_gen_int(g, 0, 4);
    SETK(g, "prob", k, "the brakes make a strange noise", "the engine won't start in the morning",
         "the air conditioning doesn't work", "there's a flat tire", "the battery keeps dying");
    SETK(g, "fix", k, "replace the brake pads", "check the engine", "fix the air conditioner",
         "change the tire", "put in a new battery");
    bg_gen_set(g, "cost", "%d", 10 * bg_gen_int(g, 5, 60));
    SETP(g, "ready", "this afternoon", "tomorrow morning", "on Friday", "in two days");
    SAY(g, 2, "Hi, what can I do for you?", "Good morning. What's the problem with your car?");
    SAY(g, 1, "I think {prob}.", "My car has a problem: {prob}.");
    SAY(g, 2, "Let me take a look. We'll need to {fix}.", "I see. We have to {fix}.");
    SAY(g, 1, "How much will that cost?", "What will it cost?");
    SAY(g, 2, "About {cost} dollars, including parts.", "Around {cost} dollars.");
    SAY(g, 1, "When will it be ready?", "How long will it take?");
    SAY(g, 2, "It'll be ready {ready}.", "You can pick it up {ready}.");
    SAY(g, 1, "OK, go ahead.", "Fine. Please call me when it's done.");
    SUM(g, "{A} takes the car to the garage because {prob}.", "{A}'s car needs repair: {prob}.");
    SUM(g, "{B} will {fix} for about {cost} dollars, and the car will be ready {ready}.");
}

static void pharmacy(bg_gen *g) {
    int k = bg_gen_int(g, 0, 4);
    SETK(g, "sym", k, "a headache", "a cold", "hay fever", "an upset stomach", "a cough");
    SETK(g, "med", k, "this aspirin", "this cold medicine", "these allergy pills", "these antacid tablets",
         "this cough syrup");
    SETK(g, "smed", k, "aspirin", "cold medicine", "allergy pills", "antacid tablets", "cough syrup");
    SETK(g, "dose", k, "two tablets every six hours", "one tablet every four hours", "one pill a day",
         "two tablets after meals", "one spoonful three times a day");
    bg_gen_set(g, "cost", "%d", bg_gen_int(g, 4, 18));
    SAY(g, 1, "Hello, do you have something for {sym}?", "Hi. I need something for {sym}.");
    SAY(g, 2, "Sure. Try {med}.", "Yes. I'd suggest {med}.");
    SAY(g, 1, "How should I take it?", "What is the dose?");
    SAY(g, 2, "Take {dose}. Don't drink alcohol with it.",
        "Take {dose}, and see a doctor if it doesn't help in three days.");
    SAY(g, 1, "How much is it?", "OK, I'll take it. How much?");
    SAY(g, 2, "It's {cost} dollars.", "{cost} dollars, please.");
    SUM(g, "{A} buys {smed} for {sym} at the pharmacy for {cost} dollars.",
        "{A} has {sym}; {B} sells {A} {smed} for {cost} dollars.");
    SUM(g, "{B} tells {A} to take {dose}.");
}

static void weekend(bg_gen *g) {
    SETP(g, "act", "went camping", "visited my grandparents", "cleaned the whole house", "went to a concert",
         "played football", "went fishing with my dad");
    SETP(g, "act2", "stayed at home and read", "went shopping", "watched films all day", "went swimming");
    SETP(g, "how", "great", "tiring but fun", "relaxing", "wonderful");
    SAY(g, 1, "How was your weekend, {p2}?", "Hi {p2}! Did you have a good weekend?");
    SAY(g, 2, "It was {how}. I {act}.", "{^how}! I {act}.");
    SAY(g, 1, "That sounds nice.", "Really? Lucky you.", "Wow, good for you.");
    SAY(g, 2, "What about you?", "And you? What did you do?");
    SAY(g, 1, "Nothing special. I {act2}.", "I just {act2}.");
    if (CHANCE(g, 50)) {
        SAY(g, 2, "Next weekend, why don't you join us?", "You should come with us next time.");
        SAY(g, 1, "I'd love to. Thanks!", "Sure, that would be fun.");
        SUM(g, "{B} {act} at the weekend and {A} {act2}. {B} invites {A} to come along next time.");
    } else {
        SUM(g, "{A} and {B} talk about their weekend. {B} {act}, and {A} {act2}.");
    }
}

static void tech(bg_gen *g) {
    SETP(g, "dev", "laptop", "computer", "printer", "phone");
    int k = bg_gen_int(g, 0, 3);
    SETK(g, "prob", k, "won't turn on", "is very slow", "keeps freezing", "can't connect to the Internet");
    SETK(g, "still", k, "still won't turn on", "is still very slow", "still keeps freezing",
         "still can't connect");
    SETK(g, "fix", k, "check the power cable and charge the battery", "delete some old files",
         "restart it and install the updates", "reset the network settings");
    int solved = CHANCE(g, 60);
    SAY(g, 2, "IT help desk, {p2} speaking.", "Hello, technical support. What's the problem?");
    SAY(g, 1, "Hi. My {dev} {prob}.", "Hello. I have a problem. My {dev} {prob}.");
    SAY(g, 2, "When did it start?", "How long has this been happening?");
    SAY(g, 1, "Since yesterday.", "Since this morning.", "For about a week.");
    SAY(g, 2, "OK. First, please {fix}.", "Let's try this: {fix}.");
    if (solved) {
        SAY(g, 1, "OK... It works now! Thank you so much.", "Wait a second... Yes, it's working again.");
        SAY(g, 2, "Glad to help.", "Great. Call us if it happens again.");
        SUM(g, "{A}'s {dev} {prob}. {B} tells {A} to {fix}, and that solves the problem.");
    } else {
        SAY(g, 1, "I did, but it {still}.", "It didn't help. It {still}.");
        SAY(g, 2, "Then please bring it to our office and we'll repair it.",
            "I'll send a technician this afternoon.");
        SUM(g, "{A}'s {dev} {prob}. {B} suggests that {A} {fix}, but it doesn't help, so it needs "
               "repair.");
    }
}

static void neighbor(bg_gen *g) {
    SETL(g, "city", bg_w_cities);
    SETP(g, "job", "a teacher", "a nurse", "an engineer", "a student", "a cook", "a photographer");
    SETP(g, "tip", "the bakery on the corner is great", "the market opens on Sunday mornings",
         "the number 12 bus goes downtown", "the park behind the building is quiet");
    SAY(g, 1, "Hi, I'm {p1}. I just moved in next door.", "Hello! I'm your new neighbor, {p1}.");
    SAY(g, 2, "Nice to meet you, {p1}. I'm {p2}. Welcome!", "Oh, welcome! My name is {p2}.");
    SAY(g, 2, "Where are you from?", "Where did you move from?");
    SAY(g, 1, "I'm from {city}. I moved here for work. I'm {job}.",
        "From {city}. I'm {job}, and I got a job here.");
    SAY(g, 2, "If you need anything, just knock on my door.", "Let me know if you need any help.");
    SAY(g, 2, "By the way, {tip}.", "Oh, and {tip}.");
    SAY(g, 1, "Thanks, that's very kind of you.", "Thank you! That's good to know.");
    bg_gen_set(g, "A", "%s", bg_gen_get(g, "p1"));
    bg_gen_set(g, "B", "%s", bg_gen_get(g, "p2"));
    SUM(g, "{A}, {job} from {city}, has just moved in next door and meets {B}.",
        "{A} meets the neighbor {B} after moving in next door from {city}.");
    SUM(g, "{B} offers help and tells {A} that {tip}.");
}

static void train(bg_gen *g) {
    SETL(g, "city", bg_w_cities);
    SETP(g, "dep", "8:05", "9:40", "11:20", "13:15", "16:45", "18:30", "20:10");
    SETP(g, "plat", "two", "four", "six", "nine");
    bg_gen_set(g, "fare", "%d", bg_gen_int(g, 15, 95));
    int ret = CHANCE(g, 50);
    bg_gen_set(g, "kind", ret ? "a return ticket" : "a single ticket");
    SAY(g, 1, "Hello. {^kind} to {city}, please.", "Can I have {kind} to {city}?");
    SAY(g, 2, "When would you like to travel?", "For today?");
    SAY(g, 1, "Today, please. On the next train.", "Right now, on the next train.");
    SAY(g, 2, "The next train leaves at {dep} from platform {plat}.",
        "There's one at {dep}. It leaves from platform {plat}.");
    SAY(g, 2, "That's {fare} dollars.", "The ticket costs {fare} dollars.");
    SAY(g, 1, "Do I need to change trains?", "Is it a direct train?");
    SAY(g, 2, "It's a direct train, so you don't need to change.", "It goes direct. No changes.");
    SUM(g, "{A} buys {kind} to {city} for {fare} dollars.",
        "{A} gets {kind} to {city}; it costs {fare} dollars.");
    SUM(g, "The direct train leaves at {dep} from platform {plat}.");
}

static void recipe(bg_gen *g) {
    int k = bg_gen_int(g, 0, 5);
    SETK(g, "dish", k, "pancakes", "tomato soup", "fried rice", "fruit salad", "apple pie", "banana bread");
    SETK(g, "ing", k, "flour, eggs and milk", "tomatoes, onions and garlic", "rice, eggs and vegetables",
         "apples, oranges and yogurt", "apples, butter, flour and sugar", "bananas, flour and sugar");
    SETK(g, "how", k, "fry them in a pan for a few minutes", "boil it for twenty minutes",
         "fry it for ten minutes", "keep it in the fridge for an hour", "bake it for forty-five minutes",
         "bake it for an hour");
    SAY(g, 1, "This {dish} is delicious! How did you make it?", "{p2}, can you teach me how to make {dish}?");
    SAY(g, 2, "It's easy. You need {ing}.", "It's simple. All you need is {ing}.");
    SAY(g, 1, "What do I do first?", "And then?", "What's next?");
    SAY(g, 2, "Mix everything together and {how}.", "Mix it all, then {how}.");
    SAY(g, 1, "That's all?", "Is it really that simple?");
    SAY(g, 2, "Yes. My mother taught me.", "Yes, but use fresh ingredients.");
    SAY(g, 1, "I'll try it this weekend.", "Great, I'll make it for my family.");
    SUM(g, "{B} tells {A} how to make {dish}: mix {ing}, then {how}.",
        "{A} asks {B} for the recipe for {dish}. It takes {ing}; you mix them and {how}.");
}

static void complaint(bg_gen *g) {
    static const char *const said[] = {"my soup is cold",           "there's a hair in my salad",
                                       "the steak is overcooked",   "we've been waiting for forty minutes",
                                       "this isn't what I ordered", NULL};
    static const char *const told[] = {"the soup is cold",
                                       "there's a hair in the salad",
                                       "the steak is overcooked",
                                       "they've been waiting for forty minutes",
                                       "the dish isn't what was ordered",
                                       NULL};
    int k = bg_gen_int(g, 0, 4);
    bg_gen_set(g, "prob", "%s", said[k]);
    bg_gen_set(g, "sprob", "%s", told[k]);
    SETP(g, "soffer", k == 3 ? "bring the food right away" : "bring a new one right away");
    SAY(g, 1, "Excuse me, waiter!", "Waiter, could you come here, please?");
    SAY(g, 2, "Yes, is everything all right?", "How can I help?");
    SAY(g, 1, "I'm afraid {prob}.", "I'm sorry, but {prob}.");
    int free_dessert = CHANCE(g, 50);
    if (free_dessert) {
        SAY(g, 2, "I'm terribly sorry. I'll take it off the bill and bring you a free dessert.",
            "I do apologize. It's on the house, and dessert is free tonight.");
        SUM(g, "{A} complains to the waiter that {sprob}. {B} apologizes, takes it off the bill "
               "and offers a free dessert.");
    } else {
        SAY(g, 2, "I'm terribly sorry. I'll {soffer}.", "I do apologize. Let me {soffer}.");
        SUM(g, "{A} complains to the waiter that {sprob}. {B} apologizes and will {soffer}.");
    }
    SAY(g, 1, "Thank you.", "OK, that's fine.", "I appreciate that.");
}

static void vet(bg_gen *g) {
    SETP(g, "pet", "dog", "cat", "rabbit", "puppy");
    SETP(g, "pname", "Max", "Bella", "Lucky", "Coco", "Charlie");
    int k = bg_gen_int(g, 0, 3);
    SETK(g, "prob", k, "hasn't eaten for two days", "keeps scratching its ears", "is limping",
         "sleeps all day");
    SETK(g, "diag", k, "a stomach problem", "an ear infection", "a small cut on its paw", "a fever");
    SETP(g, "back", "next week", "in three days", "on Monday");
    SAY(g, 2, "Hello. Who do we have here?", "Hi, what's the problem with your pet?");
    SAY(g, 1, "This is {pname}, my {pet}. {pname} {prob}.", "My {pet} {pname} {prob}.");
    SAY(g, 2, "Let me examine {pname}. Hmm, it looks like {diag}.", "I see. I think it's {diag}.");
    SAY(g, 1, "Is it serious?", "Will {pname} be OK?");
    SAY(g, 2, "Don't worry. Give this medicine twice a day and come back {back}.",
        "It's not serious. Here's some medicine. Please bring {pname} back {back}.");
    SAY(g, 1, "Thank you, doctor.", "Thanks. I was so worried.");
    SUM(g, "{A} takes the {pet} {pname} to the vet because it {prob}.");
    SUM(g, "The vet says it's {diag}, gives some medicine, and asks {A} to come back {back}.");
}

static void hobby(bg_gen *g) {
    SETP(g, "hob", "playing the guitar", "painting", "learning Japanese", "taking photos", "playing chess",
         "baking bread");
    SETP(g, "long", "three months", "half a year", "two years", "a few weeks");
    SETP(g, "where", "online videos", "a class at the community center", "a private teacher", "a book");
    SAY(g, 1, "What do you do in your free time, {p2}?", "{p2}, do you have any hobbies?");
    SAY(g, 2, "I've been {hob} for {long}.", "These days I'm really into {hob}. I started {long} ago.");
    SAY(g, 1, "How did you learn?", "Who teaches you?");
    SAY(g, 2, "I learn from {where}.", "{^where}. It's not expensive.");
    SAY(g, 1, "I'd like to try that too.", "That sounds fun. Maybe I should try it.");
    SAY(g, 2, "You should! I can show you how to start.", "Come with me next time.");
    SUM(g, "{B} has been {hob} for {long}, learning from {where}. {A} wants to try it too.");
}

const bg_scene bg_scenes_b[] = {
    {"birthday plans", birthday},  {"lost and found", lost},      {"ask for directions", directions},
    {"take a taxi", taxi},         {"at the post office", post},  {"hair appointment", haircut},
    {"go to the movies", cinema},  {"grocery shopping", grocery}, {"car repair", car},
    {"at the pharmacy", pharmacy}, {"weekend", weekend},          {"computer problem", tech},
    {"new neighbor", neighbor},    {"buy a train ticket", train}, {"cooking", recipe},
    {"complaint", complaint},      {"at the vet", vet},           {"hobbies", hobby},
};
const size_t bg_nscenes_b = sizeof bg_scenes_b / sizeof *bg_scenes_b;
