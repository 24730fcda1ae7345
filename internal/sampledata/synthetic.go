package sampledata

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/bikfed/bikfed/protocol"
)

// Synthetic returns n public resource drafts owned by owner, generated
// deterministically from seed, for load tests and benchmarks: the same
// arguments always give the same drafts. Each body is about 1 KB: a title and a
// 700 to 900 byte description made of words in one of several languages, with
// random but valid languages, ages, audiences, topics, type, licence and
// minisites. The drafts have no refs and are named owner-syn-1, owner-syn-2, …
func Synthetic(owner string, n int, seed int64) []Draft {
	if n <= 0 {
		return nil
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x62696b666564)) // "bikfed"
	langs := syntheticLanguages()
	licences := []string{"CC BY 4.0", "CC BY-SA 4.0", "CC BY-NC-SA 4.0", "CC BY-NC-ND 4.0", "All rights reserved"}
	drafts := make([]Draft, 0, n)
	for i := range n {
		l := langs[rng.IntN(len(langs))]
		available := []string{l.code}
		for _, j := range rng.Perm(len(langs))[:rng.IntN(3)] {
			if langs[j].code != l.code {
				available = append(available, langs[j].code)
			}
		}
		ageMin := rng.IntN(15)
		r := protocol.Resource{
			Title:       syntheticTitle(rng, l),
			Description: syntheticText(rng, l.words, 720+rng.IntN(181)),
			Language:    l.code,
			Languages:   available,
			AgeMin:      ageMin,
			AgeMax:      ageMin + 2 + rng.IntN(9),
			Audiences:   pick(rng, protocol.Audiences, 1+rng.IntN(3)),
			Topics:      pick(rng, protocol.Topics, 1+rng.IntN(3)),
			Type:        protocol.ResourceTypes[rng.IntN(len(protocol.ResourceTypes))],
			Licence:     licences[rng.IntN(len(licences))],
			URL:         fmt.Sprintf("https://saferinternet-%s.example/%s/resources/%d", owner, l.code, i+1),
			Minisites:   pick(rng, protocol.Minisites, rng.IntN(3)),
		}
		body, err := json.Marshal(r)
		if err != nil {
			panic(fmt.Sprintf("sampledata: encode synthetic resource: %v", err)) // plain strings and ints cannot fail
		}
		drafts = append(drafts, Draft{
			Ref:        fmt.Sprintf("%s-syn-%d", owner, i+1),
			Kind:       protocol.KindResource,
			Visibility: protocol.VisibilityPublic,
			Body:       body,
		})
	}
	return drafts
}

// pick returns k distinct terms of vocab in random order, nil for k == 0.
func pick(rng *rand.Rand, vocab []string, k int) []string {
	if k == 0 {
		return nil
	}
	out := make([]string, k)
	for i, j := range rng.Perm(len(vocab))[:k] {
		out[i] = vocab[j]
	}
	return out
}

func syntheticTitle(rng *rand.Rand, l syntheticLanguage) string {
	w := pick(rng, l.words, 3)
	return l.heads[rng.IntN(len(l.heads))] + ": " + w[0] + ", " + w[1] + " " + l.and + " " + w[2]
}

// syntheticText strings random words into sentences of 7 to 14 words, stopping
// before the text would pass max bytes.
func syntheticText(rng *rand.Rand, words []string, max int) string {
	var b strings.Builder
	left := 0 // words left in the current sentence
	for {
		w := words[rng.IntN(len(words))]
		sep := " "
		if left == 0 {
			w = capitalize(w)
			left = 7 + rng.IntN(8)
			if b.Len() == 0 {
				sep = ""
			}
		}
		if b.Len()+len(sep)+len(w)+1 > max { // +1 for the closing full stop
			break
		}
		b.WriteString(sep)
		b.WriteString(w)
		if left--; left == 0 {
			b.WriteByte('.')
		}
	}
	if left != 0 {
		b.WriteByte('.')
	}
	return b.String()
}

func capitalize(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[size:]
}

type syntheticLanguage struct {
	code  string
	and   string
	heads []string
	words []string
}

// syntheticLanguages are the word lists of Synthetic, in a fixed order so the
// output depends on the seed alone.
func syntheticLanguages() []syntheticLanguage {
	return []syntheticLanguage{
		{"en", "and",
			[]string{"A guide for parents", "Classroom activity", "Tips for teens", "Staying safe online", "Talking with children"},
			strings.Fields("online safety children young people parents teachers school privacy data video game platform " +
				"social media message friend photo share report help helpline advice respect digital skills critical " +
				"source news fake check screen time wellbeing family classroom activity discussion rules account " +
				"password settings content positive creative community support trust risk chat bullying kindness learning")},
		{"nl", "en",
			[]string{"Gids voor ouders", "Klasactiviteit", "Tips voor jongeren", "Veilig online", "Praten met kinderen"},
			strings.Fields("online veiligheid kinderen jongeren ouders leerkrachten school privacy gegevens video spel " +
				"platform sociale media bericht vriend foto delen melden hulp advies respect digitale vaardigheden " +
				"kritisch denken bron nieuws nepnieuws controleren schermtijd welzijn gezin klas activiteit gesprek " +
				"afspraken account wachtwoord instellingen inhoud positief creatief samen beter internet vertrouwen " +
				"risico chatten pesten vriendelijkheid leren")},
		{"fr", "et",
			[]string{"Guide pour les parents", "Activité en classe", "Conseils pour les ados", "En sécurité en ligne", "Parler avec les enfants"},
			strings.Fields("sécurité enfants jeunes parents enseignants école vie privée données vidéo jeu plateforme " +
				"réseaux sociaux message ami photo partager signaler aide conseil respect numérique compétences esprit " +
				"critique source information vérifier écran bien-être famille classe activité discussion règles compte " +
				"mot de passe paramètres contenu positif créatif ensemble meilleur internet confiance risque " +
				"harcèlement bienveillance apprendre")},
		{"de", "und",
			[]string{"Ratgeber für Eltern", "Unterrichtsidee", "Tipps für Jugendliche", "Sicher im Netz", "Mit Kindern reden"},
			strings.Fields("online Sicherheit Kinder Jugendliche Eltern Lehrkräfte Schule Privatsphäre Daten Video Spiel " +
				"Plattform soziale Medien Nachricht Freunde Foto teilen melden Hilfe Beratung Respekt digitale " +
				"Kompetenzen kritisch Quelle Nachrichten Falschmeldungen prüfen Bildschirmzeit Wohlbefinden Familie " +
				"Klasse Übung Gespräch Regeln Konto Passwort Einstellungen Inhalte positiv kreativ gemeinsam besser " +
				"Internet Vertrauen Risiko Mobbing lernen")},
		{"fi", "ja",
			[]string{"Opas vanhemmille", "Tehtävä luokkaan", "Vinkkejä nuorille", "Turvallisesti netissä", "Puhu lapsen kanssa"},
			strings.Fields("verkossa turvallisuus lapset nuoret vanhemmat opettajat koulu yksityisyys tiedot video peli " +
				"alusta sosiaalinen media viesti kaveri kuva jakaa ilmoittaa apu neuvonta kunnioitus digitaaliset " +
				"taidot kriittinen lähde uutiset valeuutiset tarkistaa ruutuaika hyvinvointi perhe luokka tehtävä " +
				"keskustelu säännöt tili salasana asetukset sisältö myönteinen luova yhdessä parempi internet " +
				"luottamus riski kiusaaminen oppia")},
		{"sv", "och",
			[]string{"Guide för föräldrar", "Lektionsidé", "Tips för unga", "Tryggt på nätet", "Prata med barn"},
			strings.Fields("nätet säkerhet barn unga föräldrar lärare skola integritet uppgifter video spel plattform " +
				"sociala medier meddelande kompis bild dela anmäla hjälp råd respekt digitala färdigheter kritisk " +
				"källa nyheter falska granska skärmtid välmående familj klass övning samtal regler konto lösenord " +
				"inställningar innehåll positiv kreativ tillsammans bättre internet förtroende risk mobbning lära")},
		{"pt", "e",
			[]string{"Guia para pais", "Atividade para a turma", "Dicas para jovens", "Seguro na internet", "Conversar com as crianças"},
			strings.Fields("online segurança crianças jovens pais professores escola privacidade dados vídeo jogo " +
				"plataforma redes sociais mensagem amigo fotografia partilhar denunciar ajuda conselho respeito digital " +
				"competências pensamento crítico fonte notícias falsas verificar ecrã bem-estar família turma atividade " +
				"conversa regras conta palavra-passe definições conteúdos positivo criativo juntos melhor internet " +
				"confiança risco ciberbullying aprender")},
		{"es", "y",
			[]string{"Guía para familias", "Actividad para el aula", "Consejos para adolescentes", "Seguros en internet", "Hablar con los niños"},
			strings.Fields("seguridad niños jóvenes familias docentes escuela privacidad datos vídeo juego plataforma " +
				"redes sociales mensaje amigo foto compartir denunciar ayuda consejo respeto digital competencias " +
				"pensamiento crítico fuente noticias falsas verificar pantalla bienestar familia clase actividad " +
				"conversación normas cuenta contraseña ajustes contenido positivo creativo juntos mejor internet " +
				"confianza riesgo acoso aprender")},
		{"it", "e",
			[]string{"Guida per genitori", "Attività in classe", "Consigli per ragazzi", "Sicuri online", "Parlare con i bambini"},
			strings.Fields("online sicurezza bambini ragazzi genitori insegnanti scuola privacy dati video gioco " +
				"piattaforma social messaggio amico foto condividere segnalare aiuto consiglio rispetto digitale " +
				"competenze pensiero critico fonte notizie false verificare schermo benessere famiglia classe attività " +
				"discussione regole account password impostazioni contenuti positivo creativo insieme migliore " +
				"internet fiducia rischio bullismo imparare")},
	}
}
