"""Word lists for invented songs, artists and users (written for this generator, not taken from the sample)."""

TITLE_WORDS = (
    "Love", "Night", "Heart", "Fire", "Dream", "Rain", "Blue", "Dance", "Time", "Road", "Home", "Light",
    "Shadow", "River", "Summer", "Winter", "Girl", "Boy", "Baby", "Song", "Blues", "Train", "City", "Moon",
    "Sun", "Star", "Gold", "Silver", "Wild", "Sweet", "Lonely", "Broken", "Lost", "Free", "Crazy", "Young",
    "Old", "Little", "Big", "Black", "White", "Red", "Midnight", "Morning", "Sunday", "Paradise", "Angel",
    "Devil", "Soul", "Rock", "Funk", "Groove", "Ocean", "Sky", "Storm", "Thunder", "Highway", "Memory",
    "Tears", "Kiss", "Fever", "Echo", "Mirror", "Window", "Garden", "Street", "Party", "Radio", "Machine",
    "Ghost", "Kingdom", "Revolution", "Freedom", "Island", "Desert", "Mountain", "Valley", "Stranger",
    "Letter", "Promise", "Secret", "Story", "Whisper", "Voice", "Danger", "Magic", "Electric", "Golden",
    "Silent", "Burning", "Falling", "Running", "Waiting", "Dancing", "Forever", "Tonight", "Tomorrow",
    "Yesterday", "Everything", "Nothing", "Somebody", "World", "Life", "Fool", "King", "Queen", "Hero",
    "Rebel", "Sister", "Brother", "Mama", "Daddy", "Heaven", "Satellite", "Velvet", "Diamond", "Bridge",
)
TITLE_PATTERNS = (
    "{a}", "{a} {b}", "{a} {b}", "The {a}", "The {a} {b}", "{a} Of {b}", "{a} In The {b}", "My {a}",
    "{a} And {b}", "Your {a}", "{a} On The {b}", "No {a}", "{a} {b} {c}", "Sweet {a}",
)
APOSTROPHE_WORDS = ("Don't", "Can't", "I'm", "You're", "It's", "Ain't", "Won't", "Lovin'", "Nothin'", "Rock 'n'")
NON_ASCII_WORDS = (
    "Corazón", "Mañana", "Für Dich", "Über", "Été", "Noël", "Façade", "Señorita", "Søndag", "Kärlek",
    "Ça Va", "Déjà Vu", "Niño", "Canción", "Garçon", "Hjärta", "Água", "Señor", "Café", "Märchen",
)
TITLE_SUFFIXES = (
    " (Album Version)", " (LP Version)", " (Live)", " (Remastered)", " (Radio Edit)", " (Explicit)",
    " (Extended Mix)", " (Acoustic)", " (Demo)", " (Instrumental)", "_ Part 2", " (Remix_ Edit)",
)

ARTIST_FIRST_NAMES = (
    "John", "Mary", "Billy", "Sarah", "Marcus", "Nina", "Otis", "Ella", "Ray", "Patti", "Johnny", "Dolly",
    "Sam", "Aretha", "Tom", "Joni", "Willie", "Etta", "Frank", "Carole", "Louis", "Grace", "Miles", "Janis",
)
ARTIST_LAST_NAMES = (
    "Walker", "Holloway", "Benson", "Carter", "Reyes", "Mitchell", "Hayes", "Dawson", "Porter", "Quinn",
    "Fletcher", "Monroe", "Sullivan", "Brooks", "Lindqvist", "Okafor", "Marino", "Kowalski", "Ferreira",
)
NON_ASCII_ARTIST_NAMES = (
    "Björn Halvorsen", "Zoë Lamarre", "José Ibáñez", "Sébastien Roux", "Renée Castel", "Åsa Lund",
    "Jürgen Maier", "François Dupré", "Mägo Kvartett", "Núñez y Los Señores", "Motörkraft", "Ólafur Berg",
)
ARTIST_PREFIXES = ("DJ", "MC", "Lil", "Big", "Dr.", "Young")
ARTIST_JOINERS = (" featuring ", " & ", " feat. ", " and ", " / ", ";")

ARTIST_LOCATIONS = (
    "London, England", "Los Angeles, CA", "New York, NY", "Chicago, IL", "California - LA",
    "NY - New York City", "Detroit, MI", "Brooklyn, NY", "California", "Philadelphia, PA", "Boston, MA",
    "San Francisco, CA", "Seattle, WA", "Texas", "Nashville, TN", "Atlanta, GA", "Memphis, TN",
    "New Orleans, LA", "Toronto, Ontario, Canada", "Glasgow, Scotland", "Manchester, England", "Dublin",
    "Paris, France", "Berlin, Germany", "Stockholm, Sweden", "Kingston, Jamaica", "Melbourne, Australia",
    "Tokyo, Japan", "Rio de Janeiro, Brazil", "Minneapolis, MN", "Austin, TX", "Portland, OR",
)
NON_ASCII_ARTIST_LOCATIONS = (
    "Malmö, Sweden", "São Paulo, Brazil", "Zürich, Switzerland", "Montréal, Québec", "Reykjavík, Iceland",
)

FEMALE_FIRST_NAMES = (
    "Abigail", "Brooke", "Chloe", "Daisy", "Emma", "Fiona", "Gabriela", "Hannah", "Isabel", "Jasmine",
    "Kaylee", "Lily", "Madison", "Natalie", "Olivia", "Paige", "Riley", "Sophia", "Tegan", "Victoria",
)
MALE_FIRST_NAMES = (
    "Aaron", "Brandon", "Caleb", "Dylan", "Ethan", "Felix", "Gavin", "Henry", "Isaac", "Jacob",
    "Kevin", "Logan", "Mason", "Noah", "Owen", "Preston", "Ryan", "Samuel", "Tyler", "Wyatt",
)
USER_LAST_NAMES = (
    "Adams", "Baker", "Chavez", "Dixon", "Ellis", "Foster", "Garcia", "Harris", "Jensen", "Kim", "Lopez",
    "Morris", "Nguyen", "Owens", "Patel", "Ramirez", "Scott", "Turner", "Vaughn", "Watson", "Young",
)
USER_LOCATIONS = (
    "Philadelphia-Camden-Wilmington, PA-NJ-DE-MD", "San Francisco-Oakland-Hayward, CA",
    "Phoenix-Mesa-Scottsdale, AZ", "New York-Newark-Jersey City, NY-NJ-PA", "Atlanta-Sandy Springs-Roswell, GA",
    "Chicago-Naperville-Elgin, IL-IN-WI", "Los Angeles-Long Beach-Anaheim, CA", "Houston-The Woodlands-Sugar Land, TX",
    "Dallas-Fort Worth-Arlington, TX", "Seattle-Tacoma-Bellevue, WA", "Denver-Aurora-Lakewood, CO",
    "Boston-Cambridge-Newton, MA-NH", "Miami-Fort Lauderdale-West Palm Beach, FL", "Detroit-Warren-Dearborn, MI",
    "Minneapolis-St. Paul-Bloomington, MN-WI", "Portland-Vancouver-Hillsboro, OR-WA",
    "Nashville-Davidson--Murfreesboro--Franklin, TN",
    "Kansas City, MO-KS", "Salt Lake City, UT", "Columbus, OH", "Tampa-St. Petersburg-Clearwater, FL",
    "Sacramento--Roseville--Arden-Arcade, CA", "Austin-Round Rock, TX", "Raleigh, NC", "Tucson, AZ",
)
# eventsim wraps a user agent in double quotes when it contains a comma.
USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.143 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.78.2 (KHTML, like Gecko) Version/7.0.6 Safari/537.78.2",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/37.0.2062.103 Safari/537.36",
    "Mozilla/5.0 (Windows NT 6.3; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.125 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/37.0.2062.94 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 7_1_2 like Mac OS X) AppleWebKit/537.51.2 (KHTML, like Gecko) Version/7.0 Mobile/11D257 Safari/9537.53",
    "Mozilla/5.0 (iPad; CPU OS 7_1_2 like Mac OS X) AppleWebKit/537.51.2 (KHTML, like Gecko) Version/7.0 Mobile/11D257 Safari/9537.53",
    "Mozilla/5.0 (Windows NT 5.1; rv:31.0) Gecko/20100101 Firefox/31.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.9; rv:31.0) Gecko/20100101 Firefox/31.0",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:32.0) Gecko/20100101 Firefox/32.0",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:31.0) Gecko/20100101 Firefox/31.0",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
)
